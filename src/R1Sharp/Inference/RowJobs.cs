using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace R1Sharp.Inference;

/// <summary>A job over the rows (tokens) of a batch, in chunks of consecutive rows.</summary>
abstract class RowJob : ParallelJob
{
    int rows, rowsPerChunk;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected void RunRows(CpuWorkers workers, int count)
    {
        rows = count;
        // Small batches run on the calling thread: waking a worker costs more than a few hundred floats of work.
        rowsPerChunk = count < 8 ? count : Math.Max(1, count / (workers.Threads * 4));
        workers.Run(this, (count + rowsPerChunk - 1) / rowsPerChunk);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public sealed override void Execute(int chunk, int worker)
    {
        int end = Math.Min(rows, (chunk + 1) * rowsPerChunk);
        for (int r = chunk * rowsPerChunk; r < end; r++) Row(r);
    }

    protected abstract void Row(int row);
}

/// <summary>RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps), row i of y from row <c>first + i·step</c> of x.</summary>
sealed unsafe class RmsNormJob : RowJob
{
    float* x, weight, y;
    int width, first, step;
    float eps;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, float* input, int firstRow, int rowStep, float* normWeight, float epsilon, float* output, int rows, int dim)
    {
        x = input;
        first = firstRow;
        step = rowStep;
        weight = normWeight;
        eps = epsilon;
        y = output;
        width = dim;
        RunRows(workers, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Row(int row)
    {
        Normalize(new ReadOnlySpan<float>(x + (long)(first + row * step) * width, width), new ReadOnlySpan<float>(weight, width), eps,
            new Span<float>(y + (long)row * width, width));
    }

    /// <summary>One vector (a row, or one head for Qwen3's q/k norms); <paramref name="output"/> may be <paramref name="input"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, float eps, Span<float> output)
    {
        float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(input) / input.Length + eps);
        TensorPrimitives.Multiply(input, inverse, output);
        TensorPrimitives.Multiply(output, weight, output);
    }
}

/// <summary>act = silu(gate) ⊙ up for rows laid out as [gate | up].</summary>
sealed unsafe class SwiGluJob : RowJob
{
    float* gateUp, act;
    int width;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, float* gateThenUp, float* output, int rows, int intermediate)
    {
        gateUp = gateThenUp;
        act = output;
        width = intermediate;
        RunRows(workers, rows);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Row(int row)
    {
        var gate = new ReadOnlySpan<float>(gateUp + (long)row * 2 * width, width);
        var up = new ReadOnlySpan<float>(gateUp + (long)row * 2 * width + width, width);
        var output = new Span<float>(act + (long)row * width, width);
        TensorPrimitives.Sigmoid(gate, output);
        TensorPrimitives.Multiply(output, gate, output);
        TensorPrimitives.Multiply(output, up, output);
    }
}

/// <summary>
/// Normalises each row's query and key heads when the model has per-head norms (Qwen3's q_norm / k_norm), rotates
/// them by the row's position (rotate-half RoPE) and writes its keys and values into the cache at slot past + t, in place.
/// </summary>
sealed unsafe class RopeAndCacheJob : RowJob
{
    float* qkv, cos, sin, keyCache, valueCache, queryNorm, keyNorm;
    long* positions;
    long positionRowStride, positionStride;
    int qkvStride, queries, heads, kvHeads, headDim, past, maxLength;
    float eps;
    SimdWidth width;

    /// <param name="qNorm">Per-head query norm weights [dim], or null for none (then <paramref name="kNorm"/> is null too).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, SimdWidth simd, float* qkvRows, int rowStride, int batch, int t, long* pos, long posRowStride, long posStride,
        float* cosTable, float* sinTable, int queryHeads, int keyValueHeads, int dim, float* qNorm, float* kNorm, float epsilon,
        float* keys, float* values, int pastLength, int cacheLength)
    {
        SimdKernels.Check(simd);
        width = simd;
        qkv = qkvRows;
        qkvStride = rowStride;
        queries = t;
        positions = pos;
        positionRowStride = posRowStride;
        positionStride = posStride;
        cos = cosTable;
        sin = sinTable;
        heads = queryHeads;
        kvHeads = keyValueHeads;
        headDim = dim;
        queryNorm = qNorm;
        keyNorm = kNorm;
        eps = epsilon;
        keyCache = keys;
        valueCache = values;
        past = pastLength;
        maxLength = cacheLength;
        RunRows(workers, batch * t);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Row(int row)
    {
        int b = row / queries, t = row % queries;
        long position = positions[b * positionRowStride + t * positionStride];
        int half = headDim / 2;
        float* q = qkv + (long)row * qkvStride;
        if (queryNorm != null)
        {
            for (int h = 0; h < heads; h++) NormalizeHead(q + h * headDim, queryNorm);
            for (int h = heads; h < heads + kvHeads; h++) NormalizeHead(q + h * headDim, keyNorm);
        }
        float* c = cos + position * half, s = sin + position * half;
        switch (width)
        {
            case SimdWidth.Bits512: RotateHeads<Vector512<float>>(q, c, s, half); break;
            case SimdWidth.Bits256: RotateHeads<Vector256<float>>(q, c, s, half); break;
            default: RotateHeads<Vector128<float>>(q, c, s, half); break;
        }
        float* k = q + heads * headDim, v = k + kvHeads * headDim;
        for (int h = 0; h < kvHeads; h++)
        {
            long slot = ((long)(b * kvHeads + h) * maxLength + past + t) * headDim;
            new ReadOnlySpan<float>(k + h * headDim, headDim).CopyTo(new Span<float>(keyCache + slot, headDim));
            new ReadOnlySpan<float>(v + h * headDim, headDim).CopyTo(new Span<float>(valueCache + slot, headDim));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void NormalizeHead(float* head, float* weight) =>
        RmsNormJob.Normalize(new ReadOnlySpan<float>(head, headDim), new ReadOnlySpan<float>(weight, headDim), eps, new Span<float>(head, headDim));

    /// <summary>Rotates the row's query and key heads, which sit side by side from <paramref name="q"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void RotateHeads<TVec>(float* q, float* c, float* s, int half) where TVec : struct
    {
        for (int h = 0; h < heads + kvHeads; h++) Rotate<TVec>(q + h * headDim, c, s, half);
    }

    /// <summary>[x0, x1] → [x0·cos − x1·sin, x0·sin + x1·cos] over the two halves of one head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rotate<TVec>(float* head, float* c, float* s, int half) where TVec : struct
    {
        float* x1 = head + half;
        int i = 0;
        for (; i + Simd<TVec>.Count <= half; i += Simd<TVec>.Count)
        {
            var a = Simd<TVec>.Load(head + i);
            var b = Simd<TVec>.Load(x1 + i);
            var cv = Simd<TVec>.Load(c + i);
            var sv = Simd<TVec>.Load(s + i);
            Simd<TVec>.Store(Simd<TVec>.Subtract(Simd<TVec>.Multiply(a, cv), Simd<TVec>.Multiply(b, sv)), head + i);
            Simd<TVec>.Store(Simd<TVec>.Add(Simd<TVec>.Multiply(a, sv), Simd<TVec>.Multiply(b, cv)), x1 + i);
        }
        for (; i < half; i++)
        {
            float a = head[i], b = x1[i];
            head[i] = a * c[i] - b * s[i];
            x1[i] = a * s[i] + b * c[i];
        }
    }
}
