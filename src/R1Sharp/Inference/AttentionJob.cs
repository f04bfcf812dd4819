using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace R1Sharp.Inference;

/// <summary>Which cached keys each row may attend: a [B, S] mask (1 = real token, 0 = padding) as int64 or bool, or none.</summary>
unsafe readonly struct KeyMask(byte* data, int elementSize, long rowStride)
{
    readonly byte* Data = data;
    readonly int ElementSize = elementSize;
    readonly long RowStride = rowStride;

    public bool IsEmpty => Data == null;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Allows(int row, int key) => ElementSize == 8
        ? ((long*)Data)[row * RowStride + key] != 0
        : Data[row * RowStride + key] != 0;
}

/// <summary>
/// Causal grouped-query attention of T new queries per row over the row's cached keys, one (row, head) per
/// chunk. A query sees keys up to its own slot that the mask allows, and always itself (so a padding query
/// never meets an all-masked softmax), as <see cref="R1Sharp.Model.AttentionMasks"/> defines.
/// </summary>
sealed unsafe class AttentionJob : ParallelJob
{
    float* q, keys, values, output;
    int qStride, outStride, queries, past, heads, kvHeads, headDim, maxLength;
    float scale;
    KeyMask mask;
    WorkerBuffers scores = null!;

    /// <param name="queryRows">Row (b, t) of the queries at <c>queryRows + (b·T + t)·queryStride</c>, heads side by side.</param>
    /// <param name="keyCache">One layer's keys [B, kvHeads, maxLength, headDim]; <paramref name="valueCache"/> alike.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, float* queryRows, int queryStride, int batch, int t, int pastLength,
        int queryHeads, int keyValueHeads, int dim, float* keyCache, float* valueCache, int cacheLength,
        KeyMask keyMask, float* outRows, int outRowStride, WorkerBuffers scratch)
    {
        q = queryRows;
        qStride = queryStride;
        queries = t;
        past = pastLength;
        heads = queryHeads;
        kvHeads = keyValueHeads;
        headDim = dim;
        keys = keyCache;
        values = valueCache;
        maxLength = cacheLength;
        mask = keyMask;
        output = outRows;
        outStride = outRowStride;
        scores = scratch;
        scale = 1f / MathF.Sqrt(dim);
        scratch.Ensure(workers.Threads, (long)t * (pastLength + t));
        workers.Run(this, batch * queryHeads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int chunk, int worker)
    {
        int b = chunk / heads, h = chunk % heads, kh = h / (heads / kvHeads);
        int keyCount = past + queries;
        float* k = keys + (long)(b * kvHeads + kh) * maxLength * headDim;
        float* v = values + (long)(b * kvHeads + kh) * maxLength * headDim;
        float* qb = q + (long)b * queries * qStride + h * headDim;
        float* s = scores.Floats(worker);

        // Scores, 4 queries at a time, up to the last key the block's last query may see.
        for (int t0 = 0; t0 < queries; t0 += 4)
        {
            int rows = Math.Min(4, queries - t0);
            DotProducts.Block(qb + (long)t0 * qStride, qStride, rows, k, headDim, 0, past + t0 + rows,
                s + (long)t0 * keyCount, keyCount, headDim, add: false);
        }
        for (int t = 0; t < queries; t++)
        {
            int visible = past + t + 1;
            var p = new Span<float>(s + (long)t * keyCount, visible);
            TensorPrimitives.Multiply(p, scale, p);
            if (!mask.IsEmpty)
                for (int j = 0; j < visible - 1; j++)
                    if (!mask.Allows(b, j)) p[j] = float.NegativeInfinity;
            TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
            TensorPrimitives.Exp(p, p);
            TensorPrimitives.Multiply(p, 1f / TensorPrimitives.Sum(p), p);
            WeightedSum(p, v, output + (long)(b * queries + t) * outStride + h * headDim);
        }
    }

    /// <summary>out = Σ_j p[j] · v[j, :].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void WeightedSum(ReadOnlySpan<float> p, float* v, float* result)
    {
        int d = 0;
        for (; d + 16 <= headDim; d += 16)
        {
            var acc = Vector512<float>.Zero;
            for (int j = 0; j < p.Length; j++) acc += Vector512.Create(p[j]) * Vector512.Load(v + (long)j * headDim + d);
            acc.Store(result + d);
        }
        for (; d < headDim; d++)
        {
            float acc = 0;
            for (int j = 0; j < p.Length; j++) acc += p[j] * v[(long)j * headDim + d];
            result[d] = acc;
        }
    }
}
