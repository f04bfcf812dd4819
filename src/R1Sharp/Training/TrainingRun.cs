using System.Diagnostics;
using System.Runtime.InteropServices;
using R1Sharp.Checkpoints;
using R1Sharp.Runs;
using R1Sharp.Tokenizers;

namespace R1Sharp.Training;

/// <summary>What a run shows its watcher while it goes (the CLI draws it).</summary>
public interface ITrainingObserver
{
    /// <summary>A stage begins: a training run of <paramref name="totalSteps"/> steps (int.MaxValue when a time budget
    /// ends it; 0 for a stage that is not a training run), resuming after <paramref name="firstStep"/>.</summary>
    void StageStarted(string stage, int totalSteps, int firstStep = 0);

    void Step(int step, IReadOnlyDictionary<string, double> metrics);

    void StageFinished(string stage, string summary);

    /// <summary>Something worth knowing that is not an error (e.g. the run index was rebuilt).</summary>
    void Notice(string message);
}

/// <summary>
/// Where a run goes: a new run in <paramref name="RunsRoot"/> named <paramref name="Name"/> (an automatic, unique
/// name when null), or the continuation of the run named <paramref name="Resume"/>. A training run saves its model
/// to <paramref name="ModelDir"/> (default &lt;run folder&gt;/model). Its cost card is computed at <paramref name="Cost"/>
/// (null: the enclosing run's rates — a pipeline's stages take the pipeline's —, else the defaults).
/// </summary>
public sealed record RunTarget(string RunsRoot, string? Name = null, string? Resume = null, string? ModelDir = null, CostRates? Cost = null);

/// <summary>
/// A run's options in the one precedence every command follows: built-in <paramref name="Defaults"/> &lt; the config
/// <paramref name="File"/> &lt; command-line <paramref name="Flags"/>. A resumed run's saved config.json takes the place
/// of defaults and file; flags still go on top. The run's config.json records the result.
/// </summary>
public sealed record ConfigLayers<TConfig>(TConfig Defaults, string? File = null, Func<TConfig, TConfig>? Flags = null)
    where TConfig : notnull
{
    public TConfig Resolve() => WithFlags(File is null ? Defaults : ConfigJson.Load(File, Defaults));

    /// <summary>The options of a resumed run: its saved config.json (<paramref name="savedJson"/>), then the flags.</summary>
    public TConfig Resolve(string savedJson, string savedPath) => WithFlags(ConfigJson.Read(savedJson, savedPath, Defaults));

    TConfig WithFlags(TConfig config) => Flags is null ? config : Flags(config);
}

/// <summary>Trains a run: gets the run folder, a checkpoint to resume from (or null), the watcher's step callback and
/// a cancellation; returns the last step's metrics.</summary>
public delegate IReadOnlyDictionary<string, double> TrainFunc(RunFolder run, CheckpointInfo? resumeFrom,
    Action<int, IReadOnlyDictionary<string, double>> onStep, CancellationToken cancellation);

/// <summary>
/// A training recipe with its inputs loaded and checked: the model it trains (saved with its tokenizer at the end),
/// its optimizer and schedule options, and the training itself. <see cref="Owned"/> are disposed with it (a teacher,
/// a reference model, held-out batches).
/// </summary>
public sealed record TrainingJob(ModelBundle Model, TrainingArguments Arguments, TrainFunc Train) : IDisposable
{
    public int MaxSteps => Arguments.MaxSteps;

    public IReadOnlyList<IDisposable?> Owned { get; init; } = [];

    /// <summary>Builds a job around <paramref name="model"/>, disposing the model if building fails.</summary>
    public static TrainingJob For(ModelBundle model, Func<ModelBundle, TrainingJob> build)
    {
        try
        {
            return build(model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var owned in Owned) owned?.Dispose();
        Model.Dispose();
    }
}

/// <summary>How a training run ended: its folder, where its model went, its last metrics, steps and training seconds.</summary>
public sealed record TrainingOutcome(string RunName, string RunPath, string ModelDir, IReadOnlyDictionary<string, double> FinalMetrics,
    int Steps, double TrainSeconds);

/// <summary>
/// The life of every run, for the CLI, the quickstart and the experiments alike. A training run: resolve its options
/// (<see cref="ConfigLayers{TConfig}"/>) → prepare the job (model, data, checks — before a new run's folder exists, so
/// a failed check leaves nothing behind) → create the run folder, or reopen a resumed one at its last checkpoint →
/// train → save the model and its tokenizer → finish the run. An error or a cancellation marks the run failed (the
/// trainer has saved a checkpoint of its last whole step: `--resume` continues from there). A run folder is locked by
/// the process that runs it, so a second process cannot resume a run that is still going.
/// </summary>
public static class TrainingRun
{
    public static TrainingOutcome Run<TConfig>(string kind, RunTarget target, ConfigLayers<TConfig> layers,
        Func<TConfig, TrainingJob> prepare, ITrainingObserver observer, CancellationToken cancellation = default)
        where TConfig : notnull
    {
        if (target.Resume is not null && layers.File is not null)
            throw new R1Error("--config cannot go with --resume: a resumed run keeps its own config.json (flags still apply)");
        RunFolder? run = target.Resume is { } name ? RunFolder.OpenToResume(target.RunsRoot, name, observer.Notice) : null;
        try
        {
            var config = run is null ? layers.Resolve() : layers.Resolve(run.ReadConfigJson(), run.ConfigPath);
            using var job = prepare(config);
            foreach (string warning in job.Arguments.ShortRunWarnings()) observer.Notice(warning);
            CheckpointInfo? checkpoint = null;
            if (run is null)
                run = RunFolder.Create(target.RunsRoot, target.Name, kind, config, observer.Notice);
            else
            {
                run.WriteConfig(config);
                checkpoint = run.Continue();
            }
            string stage = $"{kind} {run.Name}", modelDir = target.ModelDir ?? Path.Combine(run.Path, "model");
            // A resumed run's card adds this session's work to what its earlier sessions measured.
            using var meter = ComputeMeter.Start(target.Cost, run.Info.Cost?.Measurement);
            observer.StageStarted(stage, job.MaxSteps, checkpoint?.Step ?? 0);
            var clock = Stopwatch.StartNew();
            IReadOnlyDictionary<string, double> final;
            double seconds;
            try
            {
                final = job.Train(run, checkpoint, observer.Step, cancellation);
                seconds = clock.Elapsed.TotalSeconds;
                SaveModel(job.Model, modelDir);
            }
            catch (OperationCanceledException stop)
            {
                run.Finish(RunStatus.Failed, cost: meter.Card());
                throw new OperationCanceledException($"run {run.Name} was stopped; its last whole step is saved: continue it with --resume {run.Name}",
                    stop, stop.CancellationToken);
            }
            catch
            {
                run.Finish(RunStatus.Failed, cost: meter.Card());
                throw;
            }
            int steps = run.ReadMetrics().LastOrDefault()?.Step ?? 0;
            var cost = meter.Card();
            run.Finish(RunStatus.Finished, final, cost: cost);
            observer.StageFinished(stage, $"{Summary(final, steps, seconds)}\ncost: {cost.Line}");
            return new TrainingOutcome(run.Name, run.Path, Path.GetFullPath(modelDir), final, steps, seconds);
        }
        finally
        {
            run?.Dispose();
        }
    }

    /// <summary>
    /// A run made of stages (the quickstart, an experiment): created like a training run (before any stage, so its
    /// name is known), finished with the final metrics and report body <paramref name="work"/> returns, marked failed
    /// if it throws. <paramref name="work"/> times its stages with the <see cref="StageTimes"/> it is given, which
    /// also measures their cost: the run's card holds the whole pipeline and each stage.
    /// </summary>
    public static T Pipeline<T>(string kind, RunTarget target, object config, ITrainingObserver observer,
        Func<RunFolder, StageTimes, (T Result, IReadOnlyDictionary<string, double> Final, string Report)> work)
    {
        using var run = RunFolder.Create(target.RunsRoot, target.Name, kind, config, observer.Notice);
        using var meter = ComputeMeter.Start(target.Cost);
        var stages = new StageTimes(meter);
        (T Result, IReadOnlyDictionary<string, double> Final, string Report) done;
        try
        {
            done = work(run, stages);
        }
        catch
        {
            run.Finish(RunStatus.Failed, cost: stages.Card());
            throw;
        }
        var cost = stages.Card();
        run.Finish(RunStatus.Finished, done.Final, done.Report, cost);
        observer.StageFinished($"{kind} {run.Name}", $"cost: {cost.Line}");
        return done.Result;
    }

    /// <summary>Writes what the run trained to <paramref name="dir"/>: its LoRA adapter alone (PEFT's two files) when it
    /// trained one, else the model (safetensors + config.json) and its tokenizer files.</summary>
    public static void SaveModel(ModelBundle bundle, string dir)
    {
        if (bundle.Adapter is { } adapter) PeftAdapter.Save(adapter, dir);
        else bundle.Save(dir);
    }

    /// <summary>"200 steps in 41 s, reward 0.82, acc 0.75, len 23.5": a finished stage in one line.</summary>
    public static string Summary(IReadOnlyDictionary<string, double> metrics, int steps, double seconds) =>
        string.Join(", ", MetricNames.Headline.Where(h => metrics.ContainsKey(h.Key)).Select(h => $"{h.Label} {Runs.RunReport.Number(metrics[h.Key])}")
            .Prepend($"{steps} steps in {seconds:F0} s"));

    /// <summary>This machine in a few words, for reports.</summary>
    public static string Machine => $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}";
}

/// <summary>Wall-clock and cost of each named stage of a pipeline, measured by the pipeline's meter, for its report.</summary>
public sealed class StageTimes(ComputeMeter meter)
{
    public Dictionary<string, double> Seconds { get; } = [];
    public Dictionary<string, CostCard> Costs { get; } = [];

    public T Time<T>(string stage, Func<T> body)
    {
        var before = meter.Measure();
        var result = body();
        var spent = meter.Measure() - before;
        Seconds[stage] = spent.WallSeconds;
        Costs[stage] = CostCard.From(spent, meter.Rates);
        return result;
    }

    /// <summary>The whole pipeline's card so far, with its stages' (stops the meter: a report and the run index agree).</summary>
    public CostCard Card() => meter.Card(Costs);
}
