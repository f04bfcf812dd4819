using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// A LoRA adapter in the CPU kernels. After a projection Y (+)= X·Wᵀ, the kernels add scaling · (X·Aᵀ)·Bᵀ — the
/// low-rank product — instead of running on merged weights W + scaling · B·A: it costs r · (in + out) multiply-adds
/// per token and projection (r / width of W's, a few percent), needs no second copy of the weights, and reads the
/// adapter's live parameters, so GRPO's rollouts see each optimizer step's adapter and a server switches adapters
/// between batches without touching the base. <c>r1 merge</c> is the way to run one adapter at no cost at all.
/// </summary>
sealed unsafe class LoraProducts
{
    /// <summary>The projections of a GQA decoder layer, as the kernels run them.</summary>
    public enum Projection { Q, K, V, O, Gate, Up, Down }

    /// <summary>Each projection's module path inside a decoder layer (HF's names).</summary>
    static readonly string[] Paths = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    readonly LinearJob linear = new();
    readonly NativeBuffer low = new();
    readonly LinearSegment[] lowSegments = new LinearSegment[3];
    LoraAdapter? adapter;
    LoraLayer?[,] pairs = new LoraLayer?[0, Paths.Length];

    /// <summary>Applies <paramref name="next"/> (null: none) from now on; its pairs are looked up once per adapter.</summary>
    public void Use(LoraAdapter? next, int layerCount)
    {
        if (next == adapter && pairs.GetLength(0) == layerCount) return;
        adapter = next;
        pairs = new LoraLayer?[layerCount, Paths.Length];
        if (next is null) return;
        for (int l = 0; l < layerCount; l++)
            for (int p = 0; p < Paths.Length; p++)
                if (next.Find($"model.layers.{l}.{Paths[p]}") is { } pair)
                {
                    if (pair.A.dtype != ScalarType.Float32 || pair.B.dtype != ScalarType.Float32 || !pair.A.is_contiguous() || !pair.B.is_contiguous())
                        throw new InvalidOperationException("CPU kernels need contiguous float32 LoRA weights");
                    pairs[l, p] = pair;
                }
    }

    /// <summary>
    /// Y[m, column + n] += scaling · Σ_j (X·A_pᵀ)[m, j] · B_p[n, j] for each projection p of <paramref name="group"/> that
    /// the adapter wraps, all reading X [<paramref name="rows"/>, <paramref name="k"/>] with row stride <paramref name="ldx"/>.
    /// </summary>
    public void Add(CpuWorkers workers, SimdWidth simd, int layer, float* x, int rows, int k, int ldx, float* y, int ldy,
        ReadOnlySpan<(Projection Projection, int Column)> group)
    {
        if (adapter is null) return;
        // X·Aᵀ of every wrapped projection of the group in one parallel region: they read the same X.
        int count = 0, width = 0;
        foreach (var (projection, _) in group)
            if (pairs[layer, (int)projection] is { } pair)
            {
                int r = (int)pair.A.size(0);
                lowSegments[count++] = new LinearSegment(TensorMemory.Floats(pair.A), null, null, r, width);
                width += r;
            }
        if (count == 0) return;
        float* u = low.Get((long)rows * width);
        linear.Run(workers, simd, x, rows, k, ldx, u, width, false, lowSegments.AsSpan(0, count));
        float scaling = (float)adapter.Scaling;
        for (long i = 0, n = (long)rows * width; i < n; i++) u[i] *= scaling;
        int offset = 0;
        foreach (var (projection, column) in group)
            if (pairs[layer, (int)projection] is { } pair)
            {
                int r = (int)pair.A.size(0);
                linear.Run(workers, simd, u + offset, rows, r, width, y, ldy, true,
                    [new LinearSegment(TensorMemory.Floats(pair.B), null, null, (int)pair.B.size(0), column)]);
                offset += r;
            }
    }
}
