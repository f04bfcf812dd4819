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
    SimdWidth width;
    WorkerBuffers scores = null!;

    /// <param name="queryRows">Row (b, t) of the queries at <c>queryRows + (b·T + t)·queryStride</c>, heads side by side.</param>
    /// <param name="keyCache">One layer's keys [B, kvHeads, maxLength, headDim]; <paramref name="valueCache"/> alike.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, SimdWidth simd, float* queryRows, int queryStride, int batch, int t, int pastLength,
        int queryHeads, int keyValueHeads, int dim, float* keyCache, float* valueCache, int cacheLength,
        KeyMask keyMask, float* outRows, int outRowStride, WorkerBuffers scratch)
    {
        SimdKernels.Check(simd);
        width = simd;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int chunk, int worker)
    {
        switch (width)
        {
            case SimdWidth.Bits512: Execute<Vector512<float>>(chunk, worker); break;
            case SimdWidth.Bits256: Execute<Vector256<float>>(chunk, worker); break;
            default: Execute<Vector128<float>>(chunk, worker); break;
        }
    }

    /// <summary>One row's KV group: its keys and values are read once for all the group's query heads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Execute<TVec>(int chunk, int worker) where TVec : struct
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
            DotProducts.Block<TVec>(firstQuery, headDim, group, k, headDim, 0, keyCount, s, keyCount, headDim, add: false);
            for (int h = 0; h < group; h++) Softmax(s + (long)h * keyCount, keyCount, b);
            WeightedSums<TVec>(s, keyCount, keyCount, group, v, firstOut, headDim);
            return;
        }
        for (int h = 0; h < group; h++)
        {
            float* qh = firstQuery + h * headDim;
            // Scores, 4 queries at a time, up to the last key the block's last query may see.
            for (int t0 = 0; t0 < queries; t0 += 4)
            {
                int rows = Math.Min(4, queries - t0);
                DotProducts.Block<TVec>(qh + (long)t0 * qStride, qStride, rows, k, headDim, 0, past + t0 + rows,
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
                WeightedSums<TVec>(s + (long)t0 * keyCount, keyCount, limit, rows, v, firstOut + (long)t0 * outStride + h * headDim, outStride);
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
    /// outputs <paramref name="outStride"/> apart), <see cref="ValueRows"/> rows per pass over V so each value row
    /// loaded feeds that many FMAs per vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void WeightedSums<TVec>(float* p, int pStride, int count, int rowCount, float* v, float* result, int outStride)
        where TVec : struct
    {
        int h = 0, span = 4 * Simd<TVec>.Count;
        if (headDim % span == 0)
        {
            for (; h + ValueRows <= rowCount; h += ValueRows)
                for (int d = 0; d < headDim; d += span)
                    SeveralRows<TVec>(p + (long)h * pStride, pStride, count, v + d, result + (long)h * outStride + d, outStride);
            for (; h < rowCount; h++)
                for (int d = 0; d < headDim; d += span)
                    OneRow<TVec>(p + (long)h * pStride, count, v + d, result + (long)h * outStride + d);
            return;
        }
        for (; h < rowCount; h++)
        {
            float* ph = p + (long)h * pStride, out_ = result + (long)h * outStride;
            int d = 0;
            for (; d + Simd<TVec>.Count <= headDim; d += Simd<TVec>.Count)
            {
                var acc = default(TVec);
                for (int j = 0; j < count; j++) acc = Simd<TVec>.MultiplyAdd(Simd<TVec>.Broadcast(ph[j]), Simd<TVec>.Load(v + (long)j * headDim + d), acc);
                Simd<TVec>.Store(acc, out_ + d);
            }
            for (; d < headDim; d++)
            {
                float acc = 0;
                for (int j = 0; j < count; j++) acc += ph[j] * v[(long)j * headDim + d];
                out_[d] = acc;
            }
        }
    }

    /// <summary>
    /// Probability rows per pass over the values (a JIT-time constant): 4, so 16 accumulators, with 32 vector registers;
    /// 2 with 16 (x64 AVX2), where 4 rows spill to the stack (as in <see cref="DotProducts"/>).
    /// </summary>
    static int ValueRows => Simd.Registers >= 32 ? 4 : 2;

    /// <summary>Four vectors of output columns of <see cref="ValueRows"/> rows, one pass over the value rows; rows past it are compiled away.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void SeveralRows<TVec>(float* p, int pStride, int count, float* v, float* result, int outStride)
        where TVec : struct
    {
        int n = Simd<TVec>.Count;
        float* p0 = p, p1 = p + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
        TVec a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        TVec a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int j = 0; j < count; j++)
        {
            float* row = v + (long)j * headDim;
            var v0 = Simd<TVec>.Load(row);
            var v1 = Simd<TVec>.Load(row + n);
            var v2 = Simd<TVec>.Load(row + 2 * n);
            var v3 = Simd<TVec>.Load(row + 3 * n);
            var w = Simd<TVec>.Broadcast(p0[j]);
            a00 = Simd<TVec>.MultiplyAdd(w, v0, a00); a01 = Simd<TVec>.MultiplyAdd(w, v1, a01);
            a02 = Simd<TVec>.MultiplyAdd(w, v2, a02); a03 = Simd<TVec>.MultiplyAdd(w, v3, a03);
            w = Simd<TVec>.Broadcast(p1[j]);
            a10 = Simd<TVec>.MultiplyAdd(w, v0, a10); a11 = Simd<TVec>.MultiplyAdd(w, v1, a11);
            a12 = Simd<TVec>.MultiplyAdd(w, v2, a12); a13 = Simd<TVec>.MultiplyAdd(w, v3, a13);
            if (ValueRows > 2)
            {
                w = Simd<TVec>.Broadcast(p2[j]);
                a20 = Simd<TVec>.MultiplyAdd(w, v0, a20); a21 = Simd<TVec>.MultiplyAdd(w, v1, a21);
                a22 = Simd<TVec>.MultiplyAdd(w, v2, a22); a23 = Simd<TVec>.MultiplyAdd(w, v3, a23);
                w = Simd<TVec>.Broadcast(p3[j]);
                a30 = Simd<TVec>.MultiplyAdd(w, v0, a30); a31 = Simd<TVec>.MultiplyAdd(w, v1, a31);
                a32 = Simd<TVec>.MultiplyAdd(w, v2, a32); a33 = Simd<TVec>.MultiplyAdd(w, v3, a33);
            }
        }
        float* r = result;
        Simd<TVec>.Store(a00, r); Simd<TVec>.Store(a01, r + n); Simd<TVec>.Store(a02, r + 2 * n); Simd<TVec>.Store(a03, r + 3 * n);
        r += outStride;
        Simd<TVec>.Store(a10, r); Simd<TVec>.Store(a11, r + n); Simd<TVec>.Store(a12, r + 2 * n); Simd<TVec>.Store(a13, r + 3 * n);
        if (ValueRows > 2)
        {
            r += outStride;
            Simd<TVec>.Store(a20, r); Simd<TVec>.Store(a21, r + n); Simd<TVec>.Store(a22, r + 2 * n); Simd<TVec>.Store(a23, r + 3 * n);
            r += outStride;
            Simd<TVec>.Store(a30, r); Simd<TVec>.Store(a31, r + n); Simd<TVec>.Store(a32, r + 2 * n); Simd<TVec>.Store(a33, r + 3 * n);
        }
    }

    /// <summary>Four vectors of output columns of one row, two value rows per step so the FMAs do not wait on each other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void OneRow<TVec>(float* p, int count, float* v, float* result)
        where TVec : struct
    {
        int n = Simd<TVec>.Count;
        TVec a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int j = 0;
        for (; j + 2 <= count; j += 2)
        {
            float* r0 = v + (long)j * headDim, r1 = r0 + headDim;
            var w0 = Simd<TVec>.Broadcast(p[j]);
            var w1 = Simd<TVec>.Broadcast(p[j + 1]);
            a0 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0), a0); a1 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + n), a1);
            a2 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + 2 * n), a2); a3 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + 3 * n), a3);
            b0 = Simd<TVec>.MultiplyAdd(w1, Simd<TVec>.Load(r1), b0); b1 = Simd<TVec>.MultiplyAdd(w1, Simd<TVec>.Load(r1 + n), b1);
            b2 = Simd<TVec>.MultiplyAdd(w1, Simd<TVec>.Load(r1 + 2 * n), b2); b3 = Simd<TVec>.MultiplyAdd(w1, Simd<TVec>.Load(r1 + 3 * n), b3);
        }
        if (j < count)
        {
            float* r0 = v + (long)j * headDim;
            var w0 = Simd<TVec>.Broadcast(p[j]);
            a0 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0), a0); a1 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + n), a1);
            a2 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + 2 * n), a2); a3 = Simd<TVec>.MultiplyAdd(w0, Simd<TVec>.Load(r0 + 3 * n), a3);
        }
        Simd<TVec>.Store(Simd<TVec>.Add(a0, b0), result);
        Simd<TVec>.Store(Simd<TVec>.Add(a1, b1), result + n);
        Simd<TVec>.Store(Simd<TVec>.Add(a2, b2), result + 2 * n);
        Simd<TVec>.Store(Simd<TVec>.Add(a3, b3), result + 3 * n);
    }
}
