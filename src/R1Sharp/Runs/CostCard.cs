using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Serialization;
using R1Sharp.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Runs;

/// <summary>
/// The prices and powers a cost card is computed at (keys of a <c>--cost-config</c> file and of the card's
/// <c>rates</c>). Defaults, and why: see docs/training.md.
/// </summary>
public sealed record CostRates
{
    /// <summary>A busy hardware thread of a current server CPU: Xeon Platinum 8275CL (AWS c5) 240 W TDP ÷ 48 threads = 5 W;
    /// EPYC 9654 360 W ÷ 96 cores = 3.75 W.</summary>
    public const double DefaultWattsPerCore = 5;
    /// <summary>H100 SXM's board power (TDP).</summary>
    public const double DefaultWattsPerGpu = 700;
    /// <summary>AWS EC2 c5 on demand, us-east-1, Linux: $0.085 an hour for c5.large's 2 vCPUs.</summary>
    public const double DefaultPricePerCoreHour = 0.0425;
    /// <summary>DeepSeek-V3's rental price of an H800, used for the H100 too.</summary>
    public const double DefaultPricePerGpuHour = 2.0;

    /// <summary>Watts per busy CPU core (process CPU time) or per GPU (wall-clock). Null: 5 per core, 700 per GPU.</summary>
    public double? Watts { get; init; }
    /// <summary>Dollars per hour of the machine, paid for the wall-clock. Null: $0.0425 × this machine's cores on a CPU, $2 per GPU.</summary>
    public double? PricePerHour { get; init; }
    /// <summary>H100 SXM dense bf16 peak, TFLOPS (NVIDIA's datasheet: 1,979 with 2:4 sparsity, half without).</summary>
    public double H100Tflops { get; init; } = 989.4;
    /// <summary>Model FLOPs utilisation assumed on the H100 (Llama 3 pretraining reported 38–43% on H100s in bf16).</summary>
    public double H100Mfu { get; init; } = 0.4;
    /// <summary>Dollars per H100-hour (DeepSeek-V3's $2 per H800-hour, so the card compares with its figures).</summary>
    public double H100PricePerHour { get; init; } = 2.0;

    public CostRates Validate()
    {
        ConfigJson.Require(Watts is null or >= 0, "watts", Watts, "must be 0 or more");
        ConfigJson.Require(PricePerHour is null or >= 0, "price_per_hour", PricePerHour, "must be 0 or more");
        ConfigJson.Require(H100Tflops > 0 && double.IsFinite(H100Tflops), "h100_tflops", H100Tflops, "must be above 0");
        ConfigJson.Require(H100Mfu is > 0 and <= 1, "h100_mfu", H100Mfu, "must be in (0, 1]");
        ConfigJson.Require(H100PricePerHour >= 0, "h100_price_per_hour", H100PricePerHour, "must be 0 or more");
        return this;
    }

    /// <summary>These rates with the device's defaults filled in.</summary>
    public CostRates For(bool gpu) => this with
    {
        Watts = Watts ?? (gpu ? DefaultWattsPerGpu : DefaultWattsPerCore),
        PricePerHour = PricePerHour ?? (gpu ? DefaultPricePerGpuHour : DefaultPricePerCoreHour * Environment.ProcessorCount),
    };
}

/// <summary>Model FLOPs of the work done, by kind, with the tokens each kind went over (see <see cref="ModelFlops"/>).</summary>
/// <param name="TrainingTokens">Tokens through forward + backward (padding not counted).</param>
/// <param name="ForwardTokens">Tokens through forward-only passes over whole sequences: held-out loss, old-policy and
/// reference log-probs, a teacher's logits.</param>
/// <param name="PrefillTokens">Prompt tokens put in the KV cache before generating (once per prompt, however many samples).</param>
/// <param name="DecodeTokens">Sampled tokens fed back through the model for the next one (one fewer than generated per sample).</param>
public sealed record ComputeWork(long TrainingTokens = 0, double TrainingFlops = 0, long ForwardTokens = 0, double ForwardFlops = 0,
    long PrefillTokens = 0, double PrefillFlops = 0, long DecodeTokens = 0, double DecodeFlops = 0)
{
    [JsonIgnore] public double Flops => TrainingFlops + ForwardFlops + PrefillFlops + DecodeFlops;

    public static ComputeWork operator +(ComputeWork a, ComputeWork b) => new(
        a.TrainingTokens + b.TrainingTokens, a.TrainingFlops + b.TrainingFlops, a.ForwardTokens + b.ForwardTokens, a.ForwardFlops + b.ForwardFlops,
        a.PrefillTokens + b.PrefillTokens, a.PrefillFlops + b.PrefillFlops, a.DecodeTokens + b.DecodeTokens, a.DecodeFlops + b.DecodeFlops);

    public static ComputeWork operator -(ComputeWork a, ComputeWork b) => a + new ComputeWork(
        -b.TrainingTokens, -b.TrainingFlops, -b.ForwardTokens, -b.ForwardFlops, -b.PrefillTokens, -b.PrefillFlops, -b.DecodeTokens, -b.DecodeFlops);
}

/// <summary>What a meter saw: the work, the wall-clock, the process's CPU seconds, and whether the work ran on a GPU.</summary>
public sealed record ComputeMeasurement(ComputeWork Work, double WallSeconds, double CpuSeconds, bool Gpu)
{
    public static readonly ComputeMeasurement None = new(new ComputeWork(), 0, 0, false);

    public static ComputeMeasurement operator +(ComputeMeasurement a, ComputeMeasurement b) =>
        new(a.Work + b.Work, a.WallSeconds + b.WallSeconds, a.CpuSeconds + b.CpuSeconds, a.Gpu || b.Gpu);

    public static ComputeMeasurement operator -(ComputeMeasurement a, ComputeMeasurement b) =>
        new(a.Work - b.Work, a.WallSeconds - b.WallSeconds, a.CpuSeconds - b.CpuSeconds, a.Gpu);
}

/// <summary>
/// What a run cost: its model FLOPs (by kind of work), wall-clock, CPU core-seconds (or GPU-seconds), energy and dollars
/// at stated rates, and what the same FLOPs would cost on one H100. report.md shows it, report.json, run.json and the
/// run index hold it as "cost", `r1 runs` lists it. A pipeline's card has its stages' cards under <see cref="Stages"/>.
/// </summary>
public sealed record CostCard
{
    /// <summary>Model FLOPs of all the work (<see cref="Work"/>'s sum).</summary>
    public required double Flops { get; init; }
    public required ComputeWork Work { get; init; }
    public required double WallSeconds { get; init; }
    /// <summary>cpu or cuda: what the seconds and the energy are counted on.</summary>
    public required string Device { get; init; }
    /// <summary>Logical cores of the machine (the default price is per core).</summary>
    public required int Cores { get; init; }
    /// <summary>CPU time of the process (all its threads) while the run went.</summary>
    public required double CpuCoreSeconds { get; init; }
    /// <summary>On a GPU: the wall-clock of its one device; null on a CPU.</summary>
    public double? GpuSeconds { get; init; }
    /// <summary>Watt-hours: watts × core-seconds (or GPU-seconds) ÷ 3600.</summary>
    public required double EnergyWh { get; init; }
    /// <summary>The machine's price per hour × the wall-clock in hours.</summary>
    public required double Dollars { get; init; }
    /// <summary>FLOPs ÷ (the H100's peak × MFU).</summary>
    public required double H100Seconds { get; init; }
    public required double H100Dollars { get; init; }
    /// <summary>The rates this card was computed at, defaults filled in.</summary>
    public required CostRates Rates { get; init; }
    public string Formula { get; init; } = ModelFlops.Formula;
    /// <summary>A pipeline's stages (quickstart, experiment), each with its own card, in the order they ran.</summary>
    public IReadOnlyDictionary<string, CostCard>? Stages { get; init; }

    public static CostCard From(ComputeMeasurement m, CostRates rates, IReadOnlyDictionary<string, CostCard>? stages = null)
    {
        var r = rates.For(m.Gpu);
        double h100Seconds = m.Work.Flops / (r.H100Tflops * 1e12 * r.H100Mfu);
        return new CostCard
        {
            Flops = m.Work.Flops, Work = m.Work, WallSeconds = m.WallSeconds, Device = m.Gpu ? "cuda" : "cpu",
            Cores = Environment.ProcessorCount, CpuCoreSeconds = m.CpuSeconds, GpuSeconds = m.Gpu ? m.WallSeconds : null,
            EnergyWh = r.Watts!.Value * (m.Gpu ? m.WallSeconds : m.CpuSeconds) / 3600, Dollars = r.PricePerHour!.Value * m.WallSeconds / 3600,
            H100Seconds = h100Seconds, H100Dollars = h100Seconds / 3600 * r.H100PricePerHour, Rates = r, Stages = stages,
        };
    }

    /// <summary>The measurement back (a resumed run carries its earlier sessions' on).</summary>
    [JsonIgnore] public ComputeMeasurement Measurement => new(Work, WallSeconds, CpuCoreSeconds, Device == "cuda");

    /// <summary>"$0.0097, 1.2e+15 FLOPs": a run's cost in a table cell.</summary>
    [JsonIgnore] public string Short => $"{Money(Dollars)}, {FlopsText(Flops)} FLOPs";

    /// <summary>The card on one line, as commands print it at the end.</summary>
    [JsonIgnore] public string Line =>
        $"{FlopsText(Flops)} FLOPs, {Seconds(WallSeconds)} wall-clock, {Processor}, {RunReport.Number(EnergyWh)} Wh at {Power}, " +
        $"{Money(Dollars)} at {Money(Rates.PricePerHour!.Value)}/h; on one H100 at {Percent(Rates.H100Mfu)} MFU: {Seconds(H100Seconds)}, {Money(H100Dollars)}";

    string Processor => GpuSeconds is { } gpu ? $"{Amount(gpu)} GPU-s" : $"{Amount(CpuCoreSeconds)} CPU core-s";
    string Power => $"{RunReport.Number(Rates.Watts!.Value)} W per {(GpuSeconds is null ? "core" : "GPU")}";

    /// <summary>report.md's "Cost" section: the card, the formula, and the stages when there are any.</summary>
    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine("## Cost").AppendLine();
        md.AppendLine("| | |").AppendLine("|---|---|");
        md.AppendLine($"| model FLOPs | {FlopsText(Flops)} |");
        foreach (var (kind, tokens, flops) in new[]
                 {
                     ("training (forward + backward)", Work.TrainingTokens, Work.TrainingFlops), ("forward only", Work.ForwardTokens, Work.ForwardFlops),
                     ("prefill", Work.PrefillTokens, Work.PrefillFlops), ("decode", Work.DecodeTokens, Work.DecodeFlops),
                 })
            if (tokens > 0) md.AppendLine($"| – {kind} | {FlopsText(flops)} over {tokens:N0} tokens |");
        md.AppendLine($"| wall-clock | {Seconds(WallSeconds)} |");
        md.AppendLine($"| {(GpuSeconds is null ? "CPU" : "GPU")} | {Processor}{(GpuSeconds is null ? $" on {Cores} cores" : "")} |");
        md.AppendLine($"| energy | {RunReport.Number(EnergyWh)} Wh at {Power} |");
        md.AppendLine($"| cost | {Money(Dollars)} at {Money(Rates.PricePerHour!.Value)} per machine-hour |");
        md.AppendLine($"| the same FLOPs on one H100 | {Seconds(H100Seconds)}, {Money(H100Dollars)} ({RunReport.Number(Rates.H100Tflops)} TFLOPS dense bf16 at " +
                      $"{Percent(Rates.H100Mfu)} MFU, {Money(Rates.H100PricePerHour)}/h) |");
        md.AppendLine().AppendLine($"FLOPs: {Formula}.");
        if (Stages is { Count: > 0 })
        {
            md.AppendLine().AppendLine("| stage | model FLOPs | wall-clock s | CPU core-s | Wh | $ | H100 s | H100 $ |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (stage, c) in Stages)
                md.AppendLine($"| {stage} | {FlopsText(c.Flops)} | {c.WallSeconds.ToString("F1", CultureInfo.InvariantCulture)} | " +
                              $"{Amount(c.GpuSeconds ?? c.CpuCoreSeconds)} | {RunReport.Number(c.EnergyWh)} | {Money(c.Dollars)} | " +
                              $"{RunReport.Number(c.H100Seconds)} | {Money(c.H100Dollars)} |");
        }
        return md.AppendLine().ToString();
    }

    static string Seconds(double s) => $"{Amount(s)} s";

    /// <summary>One decimal from 1 up, else up to four (or a power of ten).</summary>
    static string Amount(double value) => Math.Abs(value) >= 1 ? value.ToString("F1", CultureInfo.InvariantCulture) : RunReport.Number(value);

    static string Percent(double share) => (100 * share).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    /// <summary>Dollars to the cent from $1 up, else to two significant digits ($0.085, $0.0017), in powers of ten below a
    /// millionth ($8.4e-10).</summary>
    public static string Money(double dollars)
    {
        double size = Math.Abs(dollars);
        if (size == 0 || !double.IsFinite(dollars)) return "$" + dollars.ToString(CultureInfo.InvariantCulture);
        if (size >= 1) return "$" + dollars.ToString("N2", CultureInfo.InvariantCulture);
        if (size < 1e-6) return "$" + dollars.ToString("0.#e+0", CultureInfo.InvariantCulture);
        int decimals = (int)Math.Floor(-Math.Log10(size)) + 2;
        return "$" + dollars.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>FLOPs in three significant digits: 6.02e+8.</summary>
    public static string FlopsText(double flops) => flops == 0 ? "0" : flops.ToString("0.##e+0", CultureInfo.InvariantCulture);
}

/// <summary>
/// Counts the model FLOPs of work where it happens — the trainers (tokens trained, forward-only passes) and the decode
/// loop (prefill and decode) report to <see cref="Current"/> — and measures wall-clock and process CPU time from its
/// start. Like torch's grad mode, the current meter is ambient: the run lifecycle starts one for each run (and
/// `r1 sample` for its sampling), and a meter started inside another (a quickstart's stage runs) passes its work on to it,
/// so a pipeline's card holds all of its stages' work. Outside any meter (`r1 serve`, `r1 eval`) nothing is counted.
/// </summary>
public sealed class ComputeMeter : IDisposable
{
    static readonly AsyncLocal<ComputeMeter?> current = new();
    static readonly ConditionalWeakTable<ModelConfig, ModelFlops> flopsOf = new();

    readonly ComputeMeter? parent;
    readonly ComputeMeasurement carried;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly TimeSpan cpuAtStart = Environment.CpuUsage.TotalTime;
    readonly object gate = new();
    ComputeWork work = new();
    bool gpu, disposed;
    ComputeMeasurement? stopped;

    ComputeMeter(ComputeMeter? parent, CostRates rates, ComputeMeasurement? carried)
    {
        this.parent = parent;
        this.carried = carried ?? ComputeMeasurement.None;
        Rates = rates.Validate();
    }

    /// <summary>The meter of the run this code works for; null outside any.</summary>
    public static ComputeMeter? Current => current.Value;

    /// <summary>The rates its card is computed at.</summary>
    public CostRates Rates { get; }

    /// <summary>
    /// A meter that becomes <see cref="Current"/> until disposed. <paramref name="rates"/> null takes the enclosing
    /// meter's, else the defaults; <paramref name="carried"/> is what earlier sessions of a resumed run measured.
    /// </summary>
    public static ComputeMeter Start(CostRates? rates = null, ComputeMeasurement? carried = null)
    {
        var meter = new ComputeMeter(current.Value, rates ?? current.Value?.Rates ?? new CostRates(), carried);
        current.Value = meter;
        return meter;
    }

    /// <summary>Forward + backward of the rows of <paramref name="inputs"/> [B, T], each as long as its real tokens in
    /// <paramref name="mask"/> (null: all T).</summary>
    public void Trained(CausalLanguageModel model, Tensor inputs, Tensor? mask)
    {
        var (flops, lengths) = (FlopsOf(model), Lengths(inputs, mask));
        Add(new ComputeWork(TrainingTokens: lengths.Sum(), TrainingFlops: lengths.Sum(flops.Training)), model);
    }

    /// <summary>A forward-only pass over the rows of <paramref name="inputs"/> (as <see cref="Trained"/>).</summary>
    public void Forwarded(CausalLanguageModel model, Tensor inputs, Tensor? mask)
    {
        var (flops, lengths) = (FlopsOf(model), Lengths(inputs, mask));
        Add(new ComputeWork(ForwardTokens: lengths.Sum(), ForwardFlops: lengths.Sum(flops.Forward)), model);
    }

    /// <summary>Prompts of <paramref name="promptLengths"/> tokens put in the KV cache; logits of each one's last token.</summary>
    public void Prefilled(CausalLanguageModel model, IEnumerable<int> promptLengths)
    {
        long tokens = 0, context = 0, prompts = 0;
        foreach (long p in promptLengths)
        {
            (tokens, context, prompts) = (tokens + p, context + p * (p + 1) / 2, prompts + 1); // token i attends to i + 1 positions
        }
        Add(new ComputeWork(PrefillTokens: tokens, PrefillFlops: FlopsOf(model).Cached(tokens, context, prompts)), model);
    }

    /// <summary><paramref name="tokens"/> decoded, one per row, attending to <paramref name="contextSum"/> cached positions in all.</summary>
    public void Decoded(CausalLanguageModel model, long tokens, long contextSum) =>
        Add(new ComputeWork(DecodeTokens: tokens, DecodeFlops: FlopsOf(model).Cached(tokens, contextSum, tokens)), model);

    void Add(ComputeWork done, CausalLanguageModel model)
    {
        bool onGpu = model.Device.type == TorchSharp.DeviceType.CUDA;
        lock (gate)
        {
            work += done;
            gpu |= onGpu;
        }
        parent?.Add(done, model);
    }

    /// <summary>What was measured so far (or at <see cref="Stop"/>), earlier sessions included.</summary>
    public ComputeMeasurement Measure()
    {
        lock (gate)
            return stopped ?? carried + new ComputeMeasurement(work, clock.Elapsed.TotalSeconds, (Environment.CpuUsage.TotalTime - cpuAtStart).TotalSeconds, gpu);
    }

    /// <summary>Freezes the measurement (later calls return the same), so a report and the run's index agree.</summary>
    public ComputeMeasurement Stop()
    {
        lock (gate)
            return stopped ??= Measure();
    }

    /// <summary>The card of the measurement, stopped here.</summary>
    public CostCard Card(IReadOnlyDictionary<string, CostCard>? stages = null) => CostCard.From(Stop(), Rates, stages);

    /// <summary>The enclosing meter is current again.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (current.Value == this) current.Value = parent;
    }

    static ModelFlops FlopsOf(CausalLanguageModel model) => flopsOf.GetValue(model.Config, ModelFlops.Of);

    static long[] Lengths(Tensor inputs, Tensor? mask)
    {
        if (mask is null) return Enumerable.Repeat(inputs.shape[1], (int)inputs.shape[0]).ToArray();
        using var sums = mask.sum(1, type: ScalarType.Int64).cpu();
        return sums.data<long>().ToArray();
    }
}
