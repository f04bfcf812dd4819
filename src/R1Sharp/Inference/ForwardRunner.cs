using System.Runtime.CompilerServices;
using R1Sharp.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// The engine's cached forward of a model: R1Sharp's own CPU kernels (<see cref="CpuInference"/>) when they can run it —
/// a CPU with SIMD and FMA (<see cref="SimdKernels.Active"/>), a llama/qwen2 model in float32, no gradients wanted — and
/// otherwise the model's libtorch reference forward (<see cref="CausalLanguageModel.Forward(Tensor, Tensor, Tensor?, KvCache, bool)"/>),
/// which the kernels are tested against. One runner per model (<see cref="For"/>), so the kernels' buffers and weight
/// addresses are kept across calls and shared by every engine over that model.
/// </summary>
public sealed class ForwardRunner
{
    static readonly ConditionalWeakTable<CausalLanguageModel, ForwardRunner> Runners = new();

    readonly CausalLanguageModel model;
    CpuInference? kernels;

    ForwardRunner(CausalLanguageModel model) => this.model = model;

    /// <summary>The model's runner, made on first use and kept as long as the model lives.</summary>
    public static ForwardRunner For(CausalLanguageModel model) => Runners.GetValue(model, m => new ForwardRunner(m));

    /// <summary>False always takes the libtorch reference (tests compare the two).</summary>
    public bool UseCpuKernels { get; set; } = true;

    /// <summary>Where CPU-kernel forwards spend their time while set (for `r1 bench generate`).</summary>
    internal InferenceProfile? Profile
    {
        get => kernels?.Profile;
        set => Kernels.Profile = value;
    }

    CpuInference Kernels => kernels ??= new CpuInference(model)
    {
        WeightPrecision = weightPrecision, WeightsVersion = weightsVersion, Bf16PromptGemm = bf16PromptGemm,
    };

    Precision weightPrecision = Precision.Fp32;
    long weightsVersion;
    bool bf16PromptGemm = Bf16Gemm.Available;

    /// <summary>
    /// With bf16 weights, whether prompts of at least 64 tokens multiply on libtorch's bf16 GEMM — the CPU's AMX tiles or
    /// avx512_bf16 through oneDNN (<see cref="Bf16Gemm"/>) — rather than on R1Sharp's kernels. On by default where the
    /// CPU has native bf16 products, unless R1SHARP_BF16_GEMM=0; tests switch it.
    /// </summary>
    public bool Bf16PromptGemm
    {
        get => bf16PromptGemm;
        set
        {
            bf16PromptGemm = value;
            if (kernels is not null) kernels.Bf16PromptGemm = value;
        }
    }

    /// <summary>
    /// The weights generation reads (`--precision`, decided by <see cref="GenerationPrecision"/>): the float32
    /// parameters, or bfloat16 copies of the projections and output head (half the bytes per decoded token). The copies
    /// are taken at the next forward and again after <see cref="WeightsChanged"/>. bf16 applies to the CPU kernels; the
    /// libtorch path always reads the parameters.
    /// </summary>
    public Precision WeightPrecision
    {
        get => weightPrecision;
        set
        {
            if (value == Precision.Auto) throw new ArgumentException("a runner's weight precision is fp32 or bf16; GenerationPrecision.Decide resolves auto");
            weightPrecision = value;
            if (kernels is not null) kernels.WeightPrecision = value;
        }
    }

    /// <summary>
    /// Tells the runner its model's parameters changed in place (an optimizer step, a reload of weights into the same
    /// tensors), so bf16 copies are taken again before the next forward. Replaced tensors are noticed without it.
    /// </summary>
    public void WeightsChanged()
    {
        weightsVersion++;
        if (kernels is not null) kernels.WeightsVersion = weightsVersion;
    }

    bool CanUseKernels(KvCache cache) => UseCpuKernels && CpuInference.Supports(model, cache);

    /// <summary>
    /// Appends <paramref name="inputIds"/> [B, T] at the cache's end. <paramref name="keyMask"/> [B, cache.Length + T] marks
    /// real (non-padding) positions; null means all real. Returns logits of the last position, [B, vocab], unless
    /// <paramref name="allPositions"/> ([B, T, vocab]). <paramref name="adapter"/> is the LoRA adapter to apply (a server's
    /// request names one); null applies the model's active adapter, if any.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, bool allPositions = false, LoraAdapter? adapter = null)
    {
        adapter ??= LoraAdapter.ActiveOn(model);
        if (!CanUseKernels(cache)) return Reference(inputIds, positions, keyMask, cache, allPositions, adapter);
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var logits = empty(allPositions ? [b, t, model.Config.VocabSize] : [b, model.Config.VocabSize]);
        Kernels.Forward(inputIds, positions, keyMask, cache, allPositions, logits, adapter);
        return logits;
    }

    /// <summary><see cref="Forward"/> writing into <paramref name="logits"/>, so a decode loop reuses one buffer.</summary>
    public void ForwardInto(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, Tensor logits, bool allPositions = false,
        LoraAdapter? adapter = null)
    {
        adapter ??= LoraAdapter.ActiveOn(model);
        if (CanUseKernels(cache) && logits.is_contiguous() && logits.dtype == ScalarType.Float32)
        {
            Kernels.Forward(inputIds, positions, keyMask, cache, allPositions, logits, adapter);
            return;
        }
        using var result = Reference(inputIds, positions, keyMask, cache, allPositions, adapter);
        logits.copy_(result);
    }

    /// <summary>
    /// The libtorch forward, applying <paramref name="adapter"/> through the model's LoRA hooks for this call. Packed
    /// weights multiply on the CPU kernels there (<see cref="PackedProducts"/>) unless <see cref="UseCpuKernels"/> is
    /// off: then every product is libtorch's, on dequantized weights.
    /// </summary>
    Tensor Reference(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, bool allPositions, LoraAdapter? adapter)
    {
        using var _ = LoraAdapter.Use(model, adapter);
        using var reference = UseCpuKernels ? null : PackedProducts.Dequantized();
        return model.Forward(inputIds, positions, keyMask, cache, allPositions);
    }
}
