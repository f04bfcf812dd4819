using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
/// Causal grouped-query attention of T new queries per row over the row's cached keys, one (row, KV head) per
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
        // A decode step scores all heads of a KV group at once; a longer pass scores one head's queries at a time.
        scratch.Ensure(workers.Threads, (long)Math.Max(t, queryHeads / keyValueHeads) * (pastLength + t));
        workers.Run(this, batch * keyValueHeads);
    }

    /// <summary>One row's KV group: its keys and values are read once for all the group's query heads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int chunk, int worker)
    {
        int b = chunk / kvHeads, kh = chunk % kvHeads, group = heads / kvHeads;
        int keyCount = past + queries;
        float* k = keys + (long)(b * kvHeads + kh) * maxLength * headDim;
        float* v = values + (long)(b * kvHeads + kh) * maxLength * headDim;
        float* firstQuery = q + (long)b * queries * qStride + kh * group * headDim;
        float* firstOut = output + (long)b * queries * outStride + kh * group * headDim;
        float* s = scores.Floats(worker);

        if (queries == 1)
        {
            // The group's heads sit side by side in the query row: they are the rows of one product with the keys.
            DotProducts.Block(firstQuery, headDim, group, k, headDim, 0, keyCount, s, keyCount, headDim, add: false);
            for (int h = 0; h < group; h++) Softmax(s + (long)h * keyCount, keyCount, b);
            WeightedSums(s, keyCount, keyCount, group, v, firstOut, headDim);
            return;
        }
        for (int h = 0; h < group; h++)
        {
            float* qh = firstQuery + h * headDim;
            // Scores, 4 queries at a time, up to the last key the block's last query may see.
            for (int t0 = 0; t0 < queries; t0 += 4)
            {
                int rows = Math.Min(4, queries - t0);
                DotProducts.Block(qh + (long)t0 * qStride, qStride, rows, k, headDim, 0, past + t0 + rows,
                    s + (long)t0 * keyCount, keyCount, headDim, add: false);
            }
            // Four queries share each pass over the values; keys a query may not see get probability zero.
            for (int t0 = 0; t0 < queries; t0 += 4)
            {
                int rows = Math.Min(4, queries - t0), limit = past + t0 + rows;
                for (int t = t0; t < t0 + rows; t++)
                {
                    float* p = s + (long)t * keyCount;
                    Softmax(p, past + t + 1, b);
                    new Span<float>(p + past + t + 1, limit - (past + t + 1)).Clear();
                }
                WeightedSums(s + (long)t0 * keyCount, keyCount, limit, rows, v, firstOut + (long)t0 * outStride + h * headDim, outStride);
            }
        }
    }

    /// <summary>Scaled, masked softmax over the <paramref name="visible"/> keys of one query (the last is the query's own).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Softmax(float* scores, int visible, int row)
    {
        var p = new Span<float>(scores, visible);
        TensorPrimitives.Multiply(p, scale, p);
        if (!mask.IsEmpty)
            for (int j = 0; j < visible - 1; j++)
                if (!mask.Allows(row, j)) p[j] = float.NegativeInfinity;
        TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
        TensorPrimitives.Exp(p, p);
        TensorPrimitives.Multiply(p, 1f / TensorPrimitives.Sum(p), p);
    }

    /// <summary>
    /// out[i] = Σ_j p[i, j] · v[j, :] for <paramref name="rowCount"/> probability rows (<paramref name="pStride"/> apart;
    /// outputs <paramref name="outStride"/> apart), four rows per pass over V so each value row loaded feeds 16 FMAs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void WeightedSums(float* p, int pStride, int count, int rowCount, float* v, float* result, int outStride)
    {
        int h = 0;
        if (headDim % 64 == 0)
        {
            for (; h + 4 <= rowCount; h += 4)
                for (int d = 0; d < headDim; d += 64)
                    FourRows(p + (long)h * pStride, pStride, count, v + d, result + (long)h * outStride + d, outStride);
            for (; h < rowCount; h++)
                for (int d = 0; d < headDim; d += 64)
                    OneRow(p + (long)h * pStride, count, v + d, result + (long)h * outStride + d);
            return;
        }
        for (; h < rowCount; h++)
        {
            float* ph = p + (long)h * pStride, out_ = result + (long)h * outStride;
            int d = 0;
            for (; d + 16 <= headDim; d += 16)
            {
                var acc = Vector512<float>.Zero;
                for (int j = 0; j < count; j++) acc = Avx512F.FusedMultiplyAdd(Vector512.Create(ph[j]), Vector512.Load(v + (long)j * headDim + d), acc);
                acc.Store(out_ + d);
            }
            for (; d < headDim; d++)
            {
                float acc = 0;
                for (int j = 0; j < count; j++) acc += ph[j] * v[(long)j * headDim + d];
                out_[d] = acc;
            }
        }
    }

    /// <summary>64 output columns of four rows: 16 accumulators, one pass over the value rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void FourRows(float* p, int pStride, int count, float* v, float* result, int outStride)
    {
        float* p0 = p, p1 = p + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int j = 0; j < count; j++)
        {
            float* row = v + (long)j * headDim;
            var v0 = Vector512.Load(row);
            var v1 = Vector512.Load(row + 16);
            var v2 = Vector512.Load(row + 32);
            var v3 = Vector512.Load(row + 48);
            var w = Vector512.Create(p0[j]);
            a00 = Avx512F.FusedMultiplyAdd(w, v0, a00); a01 = Avx512F.FusedMultiplyAdd(w, v1, a01);
            a02 = Avx512F.FusedMultiplyAdd(w, v2, a02); a03 = Avx512F.FusedMultiplyAdd(w, v3, a03);
            w = Vector512.Create(p1[j]);
            a10 = Avx512F.FusedMultiplyAdd(w, v0, a10); a11 = Avx512F.FusedMultiplyAdd(w, v1, a11);
            a12 = Avx512F.FusedMultiplyAdd(w, v2, a12); a13 = Avx512F.FusedMultiplyAdd(w, v3, a13);
            w = Vector512.Create(p2[j]);
            a20 = Avx512F.FusedMultiplyAdd(w, v0, a20); a21 = Avx512F.FusedMultiplyAdd(w, v1, a21);
            a22 = Avx512F.FusedMultiplyAdd(w, v2, a22); a23 = Avx512F.FusedMultiplyAdd(w, v3, a23);
            w = Vector512.Create(p3[j]);
            a30 = Avx512F.FusedMultiplyAdd(w, v0, a30); a31 = Avx512F.FusedMultiplyAdd(w, v1, a31);
            a32 = Avx512F.FusedMultiplyAdd(w, v2, a32); a33 = Avx512F.FusedMultiplyAdd(w, v3, a33);
        }
        float* r = result;
        a00.Store(r); a01.Store(r + 16); a02.Store(r + 32); a03.Store(r + 48);
        r += outStride;
        a10.Store(r); a11.Store(r + 16); a12.Store(r + 32); a13.Store(r + 48);
        r += outStride;
        a20.Store(r); a21.Store(r + 16); a22.Store(r + 32); a23.Store(r + 48);
        r += outStride;
        a30.Store(r); a31.Store(r + 16); a32.Store(r + 32); a33.Store(r + 48);
    }

    /// <summary>64 output columns of one row, two value rows per step so the FMAs do not wait on each other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void OneRow(float* p, int count, float* v, float* result)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int j = 0;
        for (; j + 2 <= count; j += 2)
        {
            float* r0 = v + (long)j * headDim, r1 = r0 + headDim;
            var w0 = Vector512.Create(p[j]);
            var w1 = Vector512.Create(p[j + 1]);
            a0 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0), a0); a1 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 32), a2); a3 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 48), a3);
            b0 = Avx512F.FusedMultiplyAdd(w1, Vector512.Load(r1), b0); b1 = Avx512F.FusedMultiplyAdd(w1, Vector512.Load(r1 + 16), b1);
            b2 = Avx512F.FusedMultiplyAdd(w1, Vector512.Load(r1 + 32), b2); b3 = Avx512F.FusedMultiplyAdd(w1, Vector512.Load(r1 + 48), b3);
        }
        if (j < count)
        {
            float* r0 = v + (long)j * headDim;
            var w0 = Vector512.Create(p[j]);
            a0 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0), a0); a1 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 16), a1);
            a2 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 32), a2); a3 = Avx512F.FusedMultiplyAdd(w0, Vector512.Load(r0 + 48), a3);
        }
        (a0 + b0).Store(result); (a1 + b1).Store(result + 16); (a2 + b2).Store(result + 32); (a3 + b3).Store(result + 48);
    }
}
