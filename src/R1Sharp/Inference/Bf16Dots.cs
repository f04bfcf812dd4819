using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using R1Sharp.Quantization;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// A float32 weight matrix [Rows, Columns] (nn.Linear layout) copied to bfloat16 for generation (`--precision bf16`):
/// half the bytes per token, which is what batch-1 decode is bound by. Values are rounded to nearest even. Within each
/// block of 32 columns the values are interleaved so that one 32-bit lane holds column i in its low half and column
/// i + 16 in its high half: <see cref="Bf16Dots"/> turns a loaded vector into two float vectors with one shift and one
/// mask, and reads X in plain order. Columns past the last whole block are stored as they come. The copy is taken from
/// the live parameter by <see cref="Fill"/> and must be taken again when the parameter changes. The values live in a
/// libtorch tensor so that <see cref="Bf16Gemm"/> hands the same bytes to libtorch's GEMM.
/// </summary>
sealed unsafe class Bf16Matrix
{
    /// <summary>Columns per interleaved block: the low and high halves of sixteen 32-bit lanes.</summary>
    public const int Block = 32;

    public Bf16Matrix(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        // Kept out of any dispose scope open at the first forward: the copy lives as long as its runner.
        Tensor = empty([rows, columns], ScalarType.BFloat16, CPU).DetachFromDisposeScope();
        Data = (ushort*)TensorMemory.Address(Tensor);
    }

    public int Rows { get; }
    public int Columns { get; }
    /// <summary>The values as a [Rows, Columns] bfloat16 tensor, columns in the interleaved order.</summary>
    public Tensor Tensor { get; }
    /// <summary>Row r's first value is at Data + r · Columns.</summary>
    public ushort* Data { get; }

    /// <summary>Where column <paramref name="column"/> of a row of <paramref name="columns"/> is stored within the row.</summary>
    public static int Position(int column, int columns)
    {
        int whole = columns / Block * Block;
        if (column >= whole) return column;
        int block = column / Block * Block, i = column - block;
        return block + (i < Block / 2 ? 2 * i : 2 * (i - Block / 2) + 1);
    }

    /// <summary>Rows [first, first + count) rounded from <paramref name="source"/> (row-major float32, the same shape).</summary>
    public void Fill(float* source, int first, int count)
    {
        for (int r = first; r < first + count; r++) RoundRow(source + (long)r * Columns, Data + (long)r * Columns, Columns);
    }

    /// <summary>
    /// bfloat16 (round to nearest even, NaN kept NaN) of <paramref name="k"/> floats, stored in the copy's
    /// column order: in each whole block of 32 columns, lane i's low half holds column i and its high half column i + 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RoundRow(float* x, ushort* output, int k)
    {
        int whole = k / Block * Block, c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var high = Vector256.Create(0xFFFF0000u);
            for (; c < whole; c += Block)
                for (int i = 0; i < Block / 2; i += Vector256<uint>.Count)
                {
                    var lo = Rounded(Vector256.Load((uint*)x + c + i));
                    var hi = Rounded(Vector256.Load((uint*)x + c + Block / 2 + i));
                    ((lo >> 16) | (hi & high)).Store((uint*)(output + c) + i);
                }
        }
        for (; c < k; c++) output[Position(c, k)] = GgmlQuants.ToBFloat16(x[c]);
    }

    /// <summary>Float bits rounded to nearest even at bit 16 (the bfloat16 is the upper half); NaNs made quiet, not rounded.</summary>
    static Vector256<uint> Rounded(Vector256<uint> bits)
    {
        var rounded = bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One);
        var nan = Vector256.GreaterThan(bits & Vector256.Create(0x7FFFFFFFu), Vector256.Create(0x7F800000u));
        return Vector256.ConditionalSelect(nan, bits | Vector256.Create(0x00400000u), rounded);
    }

    /// <summary>Row <paramref name="row"/> widened back to float32, in column order (tests, the reference).</summary>
    public float[] Widen(int row)
    {
        var values = new float[Columns];
        for (int c = 0; c < Columns; c++) values[c] = Bf16Dots.ToSingle(Data[(long)row * Columns + Position(c, Columns)]);
        return values;
    }
}

/// <summary>Copies float32 parameters into their <see cref="Bf16Matrix"/> rows on every worker.</summary>
sealed unsafe class Bf16FillJob : ParallelJob
{
    const int RowsPerChunk = 64;
    Bf16Matrix? target;
    float* source;

    public void Run(CpuWorkers workers, Bf16Matrix matrix, float* weights)
    {
        target = matrix;
        source = weights;
        workers.Run(this, (matrix.Rows + RowsPerChunk - 1) / RowsPerChunk);
        target = null;
    }

    public override void Execute(int chunk, int worker)
    {
        int first = chunk * RowsPerChunk;
        target!.Fill(source, first, Math.Min(RowsPerChunk, target.Rows - first));
    }
}

/// <summary>
/// Dot products of float32 rows of X with <see cref="Bf16Matrix"/> rows of W, the same tiles as <see cref="DotProducts"/>
/// (4 rows of W × 4 or 2 rows of X): each loaded vector of W holds two vectors' worth of bfloat16 values, widened to
/// float32 in registers (a shift for the low halves, a mask for the high ones) and multiplied in float32 with FMA.
/// So the products are exact and the sums float32, as in the float32 kernels; only the weights were rounded.
/// .NET 10 exposes no managed intrinsic for avx512_bf16's vdpbf16ps (it would also round X to bfloat16), so this is
/// the path on every CPU the kernels run on; batch-1 decode is bound by the bytes of W, which it halves.
/// </summary>
static unsafe class Bf16Dots
{
    /// <summary>Above this many rows of X, tiles of X are the outer loop, as in <see cref="DotProducts"/>.</summary>
    const int StreamWeightsUpToRows = 16;

    static int TileRows => Simd.Registers >= 32 ? 4 : 2;

    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>The reference: Σ_j x[j] · W[j] in column order, in float32 (what the kernels equal up to summation order).</summary>
    public static float Dot(float* x, ushort* w, int k)
    {
        float sum = 0;
        for (int c = 0; c < k; c++) sum += x[c] * ToSingle(w[Bf16Matrix.Position(c, k)]);
        return sum;
    }

    /// <summary>
    /// Y[m, n] (+)= Σ_j X[m, j] · W[n, j] for m &lt; <paramref name="rows"/>, n in [n0, n1), j &lt; <paramref name="kc"/>;
    /// <paramref name="wb"/> points at column k0 of row 0 (k0 a multiple of <see cref="Bf16Matrix.Block"/>, so the
    /// blocks line up) and W's rows hold <paramref name="ldw"/> values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block<TVec>(float* xb, int ldx, int rows, ushort* wb, int ldw, int n0, int n1, float* yb, int ldy, int kc, bool add)
        where TVec : struct
    {
        if (rows > StreamWeightsUpToRows)
        {
            int m = 0;
            for (; m + TileRows <= rows; m += TileRows)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile<TVec>(xb + (long)m * ldx, ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, ldy, kc, add, wb + (long)n * ldw);
            for (; m < rows; m++)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile1x4<TVec>(xb + (long)m * ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, kc, add, wb + (long)n * ldw);
        }
        else
        {
            // Decode: W streams from memory once, each 4-row tile meeting every row of X while it is in L1; the next
            // tile's rows are pulled towards L1 meanwhile.
            for (int n = n0; n + 4 <= n1; n += 4)
            {
                ushort* w = wb + (long)n * ldw;
                ushort* next = n + 8 <= n1 ? w + 4L * ldw : w;
                int m = 0;
                for (; m + TileRows <= rows; m += TileRows)
                    Tile<TVec>(xb + (long)m * ldx, ldx, w, ldw, yb + (long)m * ldy + n, ldy, kc, add, m == 0 ? next : w);
                for (; m < rows; m++) Tile1x4<TVec>(xb + (long)m * ldx, w, ldw, yb + (long)m * ldy + n, kc, add, m == 0 ? next : w);
            }
        }
        for (int n = n0 + (n1 - n0) / 4 * 4; n < n1; n++)
            for (int m = 0; m < rows; m++)
            {
                float sum = Dot(xb + (long)m * ldx, wb + (long)n * ldw, kc);
                float* y = yb + (long)m * ldy + n;
                *y = add ? *y + sum : sum;
            }
    }

    /// <summary>
    /// <see cref="TileRows"/> rows of X × 4 rows of W. Each step loads one vector of W's bfloat16 pairs per row: the low
    /// halves meet X at column j + q, the high halves at j + 16 + q.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile<TVec>(float* x, int ldx, ushort* w, int ldw, float* y, int ldy, int kc, bool add, ushort* prefetch)
        where TVec : struct
    {
        float* x0 = x, x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        ushort* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        TVec c00 = default, c01 = default, c02 = default, c03 = default;
        TVec c10 = default, c11 = default, c12 = default, c13 = default;
        TVec c20 = default, c21 = default, c22 = default, c23 = default;
        TVec c30 = default, c31 = default, c32 = default, c33 = default;
        int whole = kc / Bf16Matrix.Block * Bf16Matrix.Block;
        for (int j = 0; j < whole; j += Bf16Matrix.Block)
        {
            Prefetch(prefetch, ldw, j);
            for (int q = 0; q < Bf16Matrix.Block / 2; q += Simd<TVec>.Count)
            {
                int at = j + 2 * q, low = j + q, high = low + Bf16Matrix.Block / 2;
                var r0 = Simd<TVec>.Load((float*)(w0 + at));
                var r1 = Simd<TVec>.Load((float*)(w1 + at));
                var r2 = Simd<TVec>.Load((float*)(w2 + at));
                var r3 = Simd<TVec>.Load((float*)(w3 + at));
                TVec b0 = Low(r0), b1 = Low(r1), b2 = Low(r2), b3 = Low(r3);
                var a = Simd<TVec>.Load(x0 + low);
                c00 = Simd<TVec>.MultiplyAdd(a, b0, c00); c01 = Simd<TVec>.MultiplyAdd(a, b1, c01);
                c02 = Simd<TVec>.MultiplyAdd(a, b2, c02); c03 = Simd<TVec>.MultiplyAdd(a, b3, c03);
                a = Simd<TVec>.Load(x1 + low);
                c10 = Simd<TVec>.MultiplyAdd(a, b0, c10); c11 = Simd<TVec>.MultiplyAdd(a, b1, c11);
                c12 = Simd<TVec>.MultiplyAdd(a, b2, c12); c13 = Simd<TVec>.MultiplyAdd(a, b3, c13);
                if (TileRows > 2)
                {
                    a = Simd<TVec>.Load(x2 + low);
                    c20 = Simd<TVec>.MultiplyAdd(a, b0, c20); c21 = Simd<TVec>.MultiplyAdd(a, b1, c21);
                    c22 = Simd<TVec>.MultiplyAdd(a, b2, c22); c23 = Simd<TVec>.MultiplyAdd(a, b3, c23);
                    a = Simd<TVec>.Load(x3 + low);
                    c30 = Simd<TVec>.MultiplyAdd(a, b0, c30); c31 = Simd<TVec>.MultiplyAdd(a, b1, c31);
                    c32 = Simd<TVec>.MultiplyAdd(a, b2, c32); c33 = Simd<TVec>.MultiplyAdd(a, b3, c33);
                }
                b0 = High(r0); b1 = High(r1); b2 = High(r2); b3 = High(r3);
                a = Simd<TVec>.Load(x0 + high);
                c00 = Simd<TVec>.MultiplyAdd(a, b0, c00); c01 = Simd<TVec>.MultiplyAdd(a, b1, c01);
                c02 = Simd<TVec>.MultiplyAdd(a, b2, c02); c03 = Simd<TVec>.MultiplyAdd(a, b3, c03);
                a = Simd<TVec>.Load(x1 + high);
                c10 = Simd<TVec>.MultiplyAdd(a, b0, c10); c11 = Simd<TVec>.MultiplyAdd(a, b1, c11);
                c12 = Simd<TVec>.MultiplyAdd(a, b2, c12); c13 = Simd<TVec>.MultiplyAdd(a, b3, c13);
                if (TileRows > 2)
                {
                    a = Simd<TVec>.Load(x2 + high);
                    c20 = Simd<TVec>.MultiplyAdd(a, b0, c20); c21 = Simd<TVec>.MultiplyAdd(a, b1, c21);
                    c22 = Simd<TVec>.MultiplyAdd(a, b2, c22); c23 = Simd<TVec>.MultiplyAdd(a, b3, c23);
                    a = Simd<TVec>.Load(x3 + high);
                    c30 = Simd<TVec>.MultiplyAdd(a, b0, c30); c31 = Simd<TVec>.MultiplyAdd(a, b1, c31);
                    c32 = Simd<TVec>.MultiplyAdd(a, b2, c32); c33 = Simd<TVec>.MultiplyAdd(a, b3, c33);
                }
            }
        }
        Store(y, Simd<TVec>.Sum4(c00, c01, c02, c03) + Tail4(x0, w0, w1, w2, w3, whole, kc), add);
        Store(y + ldy, Simd<TVec>.Sum4(c10, c11, c12, c13) + Tail4(x1, w0, w1, w2, w3, whole, kc), add);
        if (TileRows > 2)
        {
            Store(y + 2 * ldy, Simd<TVec>.Sum4(c20, c21, c22, c23) + Tail4(x2, w0, w1, w2, w3, whole, kc), add);
            Store(y + 3 * ldy, Simd<TVec>.Sum4(c30, c31, c32, c33) + Tail4(x3, w0, w1, w2, w3, whole, kc), add);
        }
    }

    /// <summary>One row of X × 4 rows of W (batch-1 decode): the low and high halves in separate sums, so eight FMA
    /// chains keep up with the rows streaming in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile1x4<TVec>(float* x, ushort* w, int ldw, float* y, int kc, bool add, ushort* prefetch)
        where TVec : struct
    {
        ushort* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        TVec c0 = default, c1 = default, c2 = default, c3 = default;
        TVec d0 = default, d1 = default, d2 = default, d3 = default;
        int whole = kc / Bf16Matrix.Block * Bf16Matrix.Block;
        for (int j = 0; j < whole; j += Bf16Matrix.Block)
        {
            Prefetch(prefetch, ldw, j);
            for (int q = 0; q < Bf16Matrix.Block / 2; q += Simd<TVec>.Count)
            {
                int at = j + 2 * q, low = j + q, high = low + Bf16Matrix.Block / 2;
                var r0 = Simd<TVec>.Load((float*)(w0 + at));
                var r1 = Simd<TVec>.Load((float*)(w1 + at));
                var r2 = Simd<TVec>.Load((float*)(w2 + at));
                var r3 = Simd<TVec>.Load((float*)(w3 + at));
                var a = Simd<TVec>.Load(x + low);
                c0 = Simd<TVec>.MultiplyAdd(a, Low(r0), c0);
                c1 = Simd<TVec>.MultiplyAdd(a, Low(r1), c1);
                c2 = Simd<TVec>.MultiplyAdd(a, Low(r2), c2);
                c3 = Simd<TVec>.MultiplyAdd(a, Low(r3), c3);
                a = Simd<TVec>.Load(x + high);
                d0 = Simd<TVec>.MultiplyAdd(a, High(r0), d0);
                d1 = Simd<TVec>.MultiplyAdd(a, High(r1), d1);
                d2 = Simd<TVec>.MultiplyAdd(a, High(r2), d2);
                d3 = Simd<TVec>.MultiplyAdd(a, High(r3), d3);
            }
        }
        var sums = Simd<TVec>.Sum4(Simd<TVec>.Add(c0, d0), Simd<TVec>.Add(c1, d1), Simd<TVec>.Add(c2, d2), Simd<TVec>.Add(c3, d3));
        Store(y, sums + Tail4(x, w0, w1, w2, w3, whole, kc), add);
    }

    /// <summary>x64 only (arm64's prefetchers follow the rows on their own): block j's 64-byte line of four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Prefetch(ushort* rows, int ldw, int j)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch0(rows + j);
        Sse.Prefetch0(rows + ldw + j);
        Sse.Prefetch0(rows + 2L * ldw + j);
        Sse.Prefetch0(rows + 3L * ldw + j);
    }

    /// <summary>The low halves of a vector's 32-bit lanes as float32 (bfloat16 is a float32's upper half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec Low<TVec>(TVec raw) where TVec : struct
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return Unsafe.BitCast<Vector512<uint>, TVec>(Unsafe.BitCast<TVec, Vector512<uint>>(raw) << 16);
        if (typeof(TVec) == typeof(Vector256<float>)) return Unsafe.BitCast<Vector256<uint>, TVec>(Unsafe.BitCast<TVec, Vector256<uint>>(raw) << 16);
        return Unsafe.BitCast<Vector128<uint>, TVec>(Unsafe.BitCast<TVec, Vector128<uint>>(raw) << 16);
    }

    /// <summary>The high halves of a vector's 32-bit lanes as float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec High<TVec>(TVec raw) where TVec : struct
    {
        const uint upper = 0xFFFF0000;
        if (typeof(TVec) == typeof(Vector512<float>))
            return Unsafe.BitCast<Vector512<uint>, TVec>(Unsafe.BitCast<TVec, Vector512<uint>>(raw) & Vector512.Create(upper));
        if (typeof(TVec) == typeof(Vector256<float>))
            return Unsafe.BitCast<Vector256<uint>, TVec>(Unsafe.BitCast<TVec, Vector256<uint>>(raw) & Vector256.Create(upper));
        return Unsafe.BitCast<Vector128<uint>, TVec>(Unsafe.BitCast<TVec, Vector128<uint>>(raw) & Vector128.Create(upper));
    }

    /// <summary>The plain-stored columns [from, to) of four rows' dot products.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector128<float> Tail4(float* x, ushort* w0, ushort* w1, ushort* w2, ushort* w3, int from, int to)
    {
        if (from >= to) return Vector128<float>.Zero;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int j = from; j < to; j++)
        {
            s0 += x[j] * ToSingle(w0[j]);
            s1 += x[j] * ToSingle(w1[j]);
            s2 += x[j] * ToSingle(w2[j]);
            s3 += x[j] * ToSingle(w3[j]);
        }
        return Vector128.Create(s0, s1, s2, s3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static void Store(float* y, Vector128<float> v, bool add)
    {
        if (add) v += Vector128.Load(y);
        v.Store(y);
    }
}
