using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
namespace R1Sharp.Inference;

/// <summary>One weight matrix [N, K] (nn.Linear layout) whose outputs land at columns [Column, Column + N) of Y.</summary>
unsafe readonly struct LinearSegment(float* weight, float* bias, int n, int column)
{
    public readonly float* Weight = weight, Bias = bias;
    public readonly int N = n, Column = column;
}

/// <summary>
/// Y[m, :] = X[m, :] · Wᵀ (+ bias), or Y += that, for a few weight matrices at once (q/k/v, gate/up): one parallel
/// region instead of several, reading the live parameters, so there is no fused copy to keep in sync with training.
/// Output rows are split into chunks across the workers; large M is blocked along K so a tile of X stays in L1
/// while W streams from L2.
/// </summary>
sealed unsafe class LinearJob : ParallelJob
{
    /// <summary>K per block when M is large (a 4-row tile of X is 8 KiB).</summary>
    const int KBlock = 512;
    /// <summary>
    /// Above this many rows of X, K is blocked (and W tiles prefetched); a matrix-vector product instead streams whole
    /// rows of W, which the hardware prefetcher follows best.
    /// </summary>
    const int BlockAboveRows = 3;

    readonly LinearSegment[] segments = new LinearSegment[3];
    readonly int[] firstChunk = new int[4];
    int segmentCount;
    float* x, y;
    int rows, k, ldx, ldy, chunkRows;
    bool accumulate;
    SimdWidth width;

    /// <summary>Runs the product of X [<paramref name="m"/>, <paramref name="kDim"/>] (row stride <paramref name="xStride"/>) on <paramref name="workers"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, SimdWidth simd, float* input, int m, int kDim, int xStride, float* output, int yStride, bool addToOutput,
        ReadOnlySpan<LinearSegment> weights)
    {
        if (weights.Length > segments.Length) throw new ArgumentException("at most 3 weight segments");
        SimdKernels.Check(simd);
        width = simd;
        x = input;
        y = output;
        rows = m;
        k = kDim;
        ldx = xStride;
        ldy = yStride;
        accumulate = addToOutput;
        segmentCount = weights.Length;
        int totalN = 0;
        foreach (var s in weights) totalN += s.N;
        // Decode: enough chunks to balance the workers, each a multiple of the 4-row tile. Prefill: 64 rows of W per
        // chunk, so a block of W (64 × 512 floats) stays in L2 while every tile of X passes it.
        chunkRows = Math.Max(16, (totalN / (workers.Threads * 8) + 3) & ~3);
        if (m > BlockAboveRows) chunkRows = m > 16 ? 64 : Math.Max(chunkRows, 64);
        int chunks = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            segments[i] = weights[i];
            firstChunk[i] = chunks;
            chunks += (weights[i].N + chunkRows - 1) / chunkRows;
        }
        firstChunk[weights.Length] = chunks;
        workers.Run(this, chunks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int chunk, int worker)
    {
        switch (width)
        {
            case SimdWidth.Bits512: Execute<Vector512<float>>(chunk); break;
            case SimdWidth.Bits256: Execute<Vector256<float>>(chunk); break;
            default: Execute<Vector128<float>>(chunk); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Execute<TVec>(int chunk) where TVec : struct
    {
        int s = 0;
        while (chunk >= firstChunk[s + 1]) s++;
        var segment = segments[s];
        int n0 = (chunk - firstChunk[s]) * chunkRows;
        int n1 = Math.Min(segment.N, n0 + chunkRows);
        float* yc = y + segment.Column;
        int kb = rows > BlockAboveRows ? KBlock : k;
        for (int k0 = 0; k0 < k; k0 += kb)
            DotProducts.Block<TVec>(x + k0, ldx, rows, segment.Weight + k0, k, n0, n1, yc, ldy, Math.Min(kb, k - k0), accumulate || k0 > 0);
        if (segment.Bias != null)
            for (int m = 0; m < rows; m++)
                for (int n = n0; n < n1; n++) yc[(long)m * ldy + n] += segment.Bias[n];
    }
}
