using System.Diagnostics;
using System.Globalization;
using R1Sharp.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace R1Sharp.Cli;

/// <summary>
/// What a training command shows while it runs: on a terminal, a live panel with a progress bar and the latest
/// step's metrics; when output is not a terminal (redirected, CI), one plain line per update, so a log file keeps
/// every number.
/// </summary>
public sealed class TrainingView : IDisposable
{
    const int MessagesShown = 4;

    readonly IAnsiConsole console;
    readonly string title;
    readonly int totalSteps, firstStep;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly object gate = new();
    readonly List<string> messages = [];
    readonly SemaphoreSlim changed = new(0);
    readonly Task? liveLoop;
    volatile bool stopping;
    int step;
    IReadOnlyDictionary<string, double> metrics = new Dictionary<string, double>();

    /// <param name="totalSteps">Steps the run will take; 0 when a time budget ends it (no progress bar or ETA then).</param>
    /// <param name="firstStep">Steps already done (a resumed run), so the ETA counts only this process's pace.</param>
    /// <param name="live">true or false forces the live panel or plain lines; null (default) picks by <see cref="CliOutput.IsLive"/>.</param>
    public TrainingView(IAnsiConsole console, string title, int totalSteps, int firstStep = 0, bool? live = null)
    {
        this.console = console;
        this.title = title;
        this.totalSteps = totalSteps;
        this.firstStep = step = firstStep;
        IsLive = live ?? CliOutput.IsLive(console);
        if (IsLive)
            liveLoop = Task.Run(RunLive);
        else
            WriteLine($"{title}: {(totalSteps > 0 ? $"{totalSteps} steps" : "steps until its time budget")}" + (firstStep > 0 ? $", resuming after step {firstStep}" : ""));
    }

    public bool IsLive { get; }

    /// <summary>Shows the metrics of the step just finished (keys as <see cref="MetricNames"/>).</summary>
    public void Update(int step, IReadOnlyDictionary<string, double> metrics)
    {
        lock (gate)
        {
            this.step = step;
            this.metrics = metrics;
        }
        if (IsLive)
            changed.Release();
        else
            WriteLine(PlainLine(step, totalSteps, metrics));
    }

    /// <summary>An event worth a line of its own: a checkpoint, an evaluation, a sample.</summary>
    public void Message(string text)
    {
        if (!IsLive)
        {
            WriteLine(text);
            return;
        }
        lock (gate)
        {
            messages.Add(text);
            if (messages.Count > MessagesShown) messages.RemoveAt(0);
        }
        changed.Release();
    }

    // Straight to the output: Spectre would wrap a long line at the console width, splitting one step over lines.
    void WriteLine(string line)
    {
        console.Profile.Out.Writer.WriteLine(line);
        console.Profile.Out.Writer.Flush();
    }

    public void Dispose()
    {
        if (liveLoop is null) return;
        stopping = true;
        changed.Release();
        liveLoop.Wait();
        changed.Dispose();
    }

    /// <summary>"step 12/100 | reward 0.531±0.210 | ..." from whichever metrics are present.</summary>
    public static string PlainLine(int step, int totalSteps, IReadOnlyDictionary<string, double> metrics) =>
        string.Join(" | ", new[] { totalSteps > 0 ? $"step {step}/{totalSteps}" : $"step {step}" }.Concat(Describe(metrics).Select(d => $"{d.Label} {d.Value}")));

    /// <summary>The metrics as (label, text) pairs in reading order: rewards first, speed last; metrics without a
    /// dedicated row follow under their own names.</summary>
    public static List<(string Label, string Value)> Describe(IReadOnlyDictionary<string, double> m)
    {
        var rows = new List<(string, string)>();
        var used = new HashSet<string>();
        bool Has(string key) { used.Add(key); return m.TryGetValue(key, out var v) && double.IsFinite(v); }
        double V(string key) => m[key];

        if (Has(MetricNames.Reward))
            rows.Add(("reward", Has(MetricNames.RewardStd) ? $"{F(V(MetricNames.Reward), 3)}±{F(V(MetricNames.RewardStd), 3)}" : F(V(MetricNames.Reward), 3)));
        if (Has(MetricNames.Accuracy)) rows.Add(("accuracy", F(V(MetricNames.Accuracy), 3)));
        if (Has(MetricNames.MeanLength))
        {
            var range = Has(MetricNames.MinLength) && Has(MetricNames.MaxLength)
                ? $" [{F(V(MetricNames.MinLength), 0)}..{F(V(MetricNames.MaxLength), 0)}]" : "";
            rows.Add(("length", F(V(MetricNames.MeanLength), 1) + range));
        }
        if (Has(MetricNames.TruncatedRatio)) rows.Add(("truncated", Percent(V(MetricNames.TruncatedRatio))));
        if (Has(MetricNames.Loss)) rows.Add(("loss", F(V(MetricNames.Loss), 4)));
        if (Has(MetricNames.Kl)) rows.Add(("kl", Sci(V(MetricNames.Kl))));
        if (Has(MetricNames.ClipRatioRegion)) rows.Add(("clip", Percent(V(MetricNames.ClipRatioRegion))));
        if (Has(MetricNames.Entropy)) rows.Add(("entropy", F(V(MetricNames.Entropy), 3)));
        if (Has(MetricNames.GradNorm)) rows.Add(("grad norm", F(V(MetricNames.GradNorm), 3)));
        if (Has(MetricNames.LearningRate)) rows.Add(("lr", Sci(V(MetricNames.LearningRate))));
        if (Has(MetricNames.RolloutTokensPerSecond)) rows.Add(("rollout", $"{F(V(MetricNames.RolloutTokensPerSecond), 0)} tok/s"));
        if (Has(MetricNames.TrainTokensPerSecond)) rows.Add(("train", $"{F(V(MetricNames.TrainTokensPerSecond), 0)} tok/s"));
        if (Has(MetricNames.StepTime)) rows.Add(("step time", $"{F(V(MetricNames.StepTime), 2)} s"));

        // Shown through other rows, or too fine-grained for a glance.
        foreach (var key in new[] { MetricNames.FracRewardZeroStd, MetricNames.MeanTerminatedLength, MetricNames.ClipRatioLow,
                     MetricNames.ClipRatioHigh })
            used.Add(key);
        foreach (var (key, value) in m.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (!used.Contains(key) && !key.EndsWith("/std", StringComparison.Ordinal) && double.IsFinite(value))
                rows.Add((key, F(value, value == Math.Floor(value) && Math.Abs(value) < 1e15 ? 0 : 4)));
        return rows;
    }

    static string F(double value, int decimals) => value.ToString("N" + decimals, CultureInfo.InvariantCulture).Replace(",", "");
    static string Percent(double share) => (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
    static string Sci(double value) => value == 0 ? "0" : value.ToString("0.00e+0", CultureInfo.InvariantCulture);

    void RunLive()
    {
        console.Live(Render()).AutoClear(false).Start(context =>
        {
            // Redraw on each update, and at least twice a second so the clock moves during a long step; once more at the
            // end, so the panel left on screen shows the last update even when the view is closed right after it.
            while (!stopping)
            {
                changed.Wait(TimeSpan.FromMilliseconds(500));
                context.UpdateTarget(Render());
                context.Refresh();
            }
            context.UpdateTarget(Render());
            context.Refresh();
        });
    }

    IRenderable Render()
    {
        int step;
        IReadOnlyDictionary<string, double> metrics;
        string[] recent;
        lock (gate)
        {
            step = this.step;
            metrics = this.metrics;
            recent = messages.ToArray();
        }
        var table = new Grid().AddColumn(new GridColumn().PadRight(2)).AddColumn(new GridColumn().PadRight(4))
                              .AddColumn(new GridColumn().PadRight(2)).AddColumn();
        var described = Describe(metrics);
        for (int i = 0; i < described.Count; i += 2)
        {
            var right = i + 1 < described.Count ? described[i + 1] : ("", "");
            table.AddRow(new Markup($"[grey]{Markup.Escape(described[i].Label)}[/]"), new Text(described[i].Value),
                         new Markup($"[grey]{Markup.Escape(right.Item1)}[/]"), new Text(right.Item2));
        }
        var parts = new List<IRenderable> { new Markup(ProgressLine(step)), table };
        parts.AddRange(recent.Select(m => new Markup($"[grey]{Markup.Escape(m)}[/]")));
        return new Panel(new Rows(parts)).Header(Markup.Escape(title)).Expand();
    }

    string ProgressLine(int step)
    {
        const int width = 30;
        if (totalSteps <= 0) return $"step {step}  elapsed {Clock(clock.Elapsed)}";
        double done = totalSteps > 0 ? Math.Clamp(step / (double)totalSteps, 0, 1) : 0;
        int filled = (int)Math.Round(done * width);
        var elapsed = clock.Elapsed;
        int stepsHere = step - firstStep;
        var eta = stepsHere > 0 ? TimeSpan.FromTicks(elapsed.Ticks / stepsHere * (totalSteps - step)) : (TimeSpan?)null;
        return $"[green]{new string('█', filled)}[/][grey]{new string('░', width - filled)}[/] " +
               $"step {step}/{totalSteps} ({done * 100:0}%)  elapsed {Clock(elapsed)}" + (eta is { } e ? $"  eta {Clock(e)}" : "");
    }

    static string Clock(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes}:{t.Seconds:D2}";
}

/// <summary>
/// How a training command, the quickstart and an experiment show their stages, all on standard error (they are
/// progress, not results): each training run through a <see cref="TrainingView"/> (plain lines when it is not a
/// terminal), other stages as one line when they start and one when they end, notices as "note: …".
/// </summary>
/// <param name="plainEvery">Without a terminal, print every this many steps (and the first).</param>
public sealed class ConsoleObserver(CliOutput cli, int plainEvery = 1) : ITrainingObserver, IDisposable
{
    TrainingView? view;

    public void StageStarted(string stage, int totalSteps, int firstStep = 0)
    {
        view?.Dispose();
        view = null;
        // int.MaxValue steps: a time budget ends the stage (no progress bar or ETA).
        if (totalSteps > 0) view = new TrainingView(cli.Diagnostics, stage, totalSteps == int.MaxValue ? 0 : totalSteps, firstStep);
        else cli.Diagnostics.MarkupLine($"[bold]{Markup.Escape(stage)}[/] …");
    }

    public void Step(int step, IReadOnlyDictionary<string, double> metrics)
    {
        if (view is null) return;
        if (view.IsLive || step % plainEvery == 0 || step == 1) view.Update(step, metrics);
    }

    public void StageFinished(string stage, string summary)
    {
        view?.Dispose();
        view = null;
        cli.Diagnostics.MarkupLine($"[green]{Markup.Escape(stage)}[/]: {Markup.Escape(summary)}");
    }

    public void Notice(string message) => cli.Note(message);

    public void Dispose() => view?.Dispose();
}
