using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using R1Sharp.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>Seconds one batch-1 decode step of <paramref name="model"/> takes with its weights in <paramref name="weights"/>
/// (fp32 or bf16). Tests inject their own.</summary>
public delegate double DecodeStepTimer(CausalLanguageModel model, Precision weights);

/// <summary>
/// The one place that decides which weights generation reads (`--precision` of generate, serve, eval, sample, and
/// GRPO's rollout_precision): fp32, the parameters; bf16, bfloat16 copies of the projections and output head, read by
/// <see cref="Bf16Dots"/> (half the bytes per token, which batch-1 decode is bound by; the products and sums stay
/// float32, so only the weights' rounding differs from fp32). auto takes bf16 only where the CPU has native bf16 dot
/// products (avx512_bf16 or AMX-BF16) and a batch-1 decode step of this model measured at load runs at least
/// <see cref="MixedPrecision.ClearlyFaster"/> times faster with bf16 weights; the choice is remembered per machine in
/// <see cref="PrecisionMemo"/>, so the same command gives the same tokens on one machine. The default is fp32.
/// </summary>
public static class GenerationPrecision
{
    // A process decides once per model shape, so two loads of one model agree.
    static readonly ConcurrentDictionary<string, PrecisionChoice> Decided = new();

    /// <summary>
    /// Whether this CPU has native bfloat16 dot products: avx512_bf16 (vdpbf16ps, with the OS keeping AVX-512 state)
    /// or AMX-BF16 tiles. The kernels do not issue them (.NET 10 has no managed intrinsic for either); auto reads this
    /// as the issue's rule for where bf16 is a first-class format worth switching to unasked.
    /// </summary>
    public static bool HasNativeBf16 { get; } = X86Base.IsSupported && X86Base.CpuId(0, 0).Eax >= 7
        && (Avx512F.IsSupported && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0 || (X86Base.CpuId(7, 0).Edx & (1 << 22)) != 0);

    /// <summary>Decides the weights for <paramref name="requested"/> (<see cref="Decide"/>) and has the model's runner read them.</summary>
    public static PrecisionChoice Apply(CausalLanguageModel model, Precision requested, DecodeStepTimer? timer = null, PrecisionMemo? memo = null,
        bool? nativeBf16 = null)
    {
        var choice = Decide(requested, model, timer, memo, nativeBf16);
        var runner = ForwardRunner.For(model);
        runner.WeightPrecision = choice.Precision;
        return choice.Precision == Precision.Bf16 && runner.Bf16PromptGemm
            ? choice with { Reason = $"{choice.Reason}; prompts of {Bf16Gemm.BlockRows}+ tokens multiply on libtorch's bf16 GEMM (oneDNN: AMX tiles or avx512_bf16)" }
            : choice;
    }

    /// <summary>
    /// fp32, or bf16 where the CPU kernels can read the model's weights as bf16 (otherwise an error naming why), or
    /// auto's choice: fp32 without native bf16 (<paramref name="nativeBf16"/>, default <see cref="HasNativeBf16"/>) or
    /// where bf16 cannot run; else <paramref name="timer"/>'s verdict (default <see cref="TimeDecodeStep"/>, remembered
    /// in this process and in <paramref name="memo"/>, default this machine's; an injected timer without a memo is
    /// asked every time).
    /// </summary>
    public static PrecisionChoice Decide(Precision requested, CausalLanguageModel model, DecodeStepTimer? timer = null, PrecisionMemo? memo = null,
        bool? nativeBf16 = null)
    {
        if (requested == Precision.Fp32) return PrecisionChoice.Fp32;
        string? problem = Bf16Unavailable(model);
        if (requested == Precision.Bf16)
            return problem is null ? new PrecisionChoice(Precision.Bf16, "bf16 weights (asked for)") : throw new R1Error($"--precision bf16: {problem}");
        if (problem is not null) return new PrecisionChoice(Precision.Fp32, $"fp32: auto cannot use bf16 weights here ({problem})");
        if (!(nativeBf16 ?? HasNativeBf16))
            return new PrecisionChoice(Precision.Fp32, "fp32: auto takes bf16 weights only on a CPU with native bf16 dot products (avx512_bf16 or AMX), which this one lacks");
        var c = model.Config;
        string key = $"generation|{PrecisionMemo.Machine()}|{get_num_threads()} threads|{SimdKernels.Describe(SimdKernels.Active)}|" +
                     $"{c.Family} {c.NumHiddenLayers}×{c.HiddenSize}, ffn {c.IntermediateSize}, heads {c.NumAttentionHeads}/{c.NumKeyValueHeads}, vocab {c.VocabSize}";
        if (timer is not null) return memo is null ? Measure(model, timer) : memo.GetOrMeasure(key, () => Measure(model, timer));
        return Decided.GetOrAdd(key, _ => (memo ?? PrecisionMemo.ForMachine()).GetOrMeasure(key, () => Measure(model, TimeDecodeStep)));
    }

    /// <summary>Why the CPU kernels cannot read this model's weights as bf16, or null when they can.</summary>
    public static string? Bf16Unavailable(CausalLanguageModel model)
    {
        if (SimdKernels.Active == SimdWidth.None) return "bf16 weights run on R1Sharp's CPU kernels, which are off or cannot run on this CPU";
        if (model.Config.IsMla) return $"bf16 weights run on R1Sharp's CPU kernels, which do not run {model.Config.Family} (MLA) models";
        if (model.Device.type != TorchSharp.DeviceType.CPU) return "bf16 weights are for a model on the CPU";
        if (model.IsPacked) return "this model's weights are already packed (a GGUF file or --quantize) and run as stored";
        return null;
    }

    static PrecisionChoice Measure(CausalLanguageModel model, DecodeStepTimer timer)
    {
        double fp32 = timer(model, Precision.Fp32), bf16 = timer(model, Precision.Bf16);
        string figures = $"auto measured a batch-1 decode step: fp32 weights {Ms(fp32)}, bf16 weights {Ms(bf16)} " +
                         $"(bf16 {(fp32 / Math.Max(bf16, 1e-12)).ToString("F2", CultureInfo.InvariantCulture)}× the speed; " +
                         $"bf16 is taken when at least {MixedPrecision.ClearlyFaster.ToString(CultureInfo.InvariantCulture)}× faster)";
        return fp32 >= MixedPrecision.ClearlyFaster * bf16
            ? new PrecisionChoice(Precision.Bf16, $"bf16: {figures}")
            : new PrecisionChoice(Precision.Fp32, $"fp32: {figures}");
    }

    static string Ms(double seconds) => $"{(seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture)} ms";

    /// <summary>
    /// The real timer: the best of a few batch-1 decode steps of the model itself through its runner with
    /// <paramref name="weights"/> (after one step that warms up and, for bf16, takes the copies), then the runner's
    /// precision as it was.
    /// </summary>
    public static double TimeDecodeStep(CausalLanguageModel model, Precision weights)
    {
        const int steps = 4;
        var runner = ForwardRunner.For(model);
        var before = runner.WeightPrecision;
        runner.WeightPrecision = weights;
        try
        {
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            using var cache = KvCache.Create(model.Config, 1, steps + 1, CPU);
            var logits = empty(1, model.Config.VocabSize);
            var id = zeros(1, 1, dtype: ScalarType.Int64);
            double best = double.MaxValue;
            for (int step = 0; step <= steps; step++)
            {
                var position = full(1, 1, step, dtype: ScalarType.Int64);
                var clock = Stopwatch.StartNew();
                runner.ForwardInto(id, position, null, cache, logits);
                if (step > 0) best = Math.Min(best, clock.Elapsed.TotalSeconds);
            }
            return best;
        }
        finally
        {
            runner.WeightPrecision = before;
        }
    }
}
