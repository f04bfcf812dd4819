using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace R1Sharp.Inference;

/// <summary>
/// Dot products of rows of X with rows of W along K in SIMD vectors of any width (TVec on each method, see
/// <see cref="Simd{TVec}"/>), 4 rows of X × 4 rows of W per tile (2 × 4 with 16 vector registers): each vector loaded
/// feeds several FMAs, so batch-1 decode is bound by memory bandwidth and larger batches by the FMA units. Row-by-row
/// dots suit nn.Linear's [N, K] weights as stored: nothing is repacked.
/// </summary>
static unsafe class DotProducts
{
    /// <summary>Above this many rows of X, tiles of X are the outer loop (X no longer fits in L1 beside a tile of W).</summary>
    const int StreamWeightsUpToRows = 16;

    /// <summary>
    /// Rows of X per tile (a JIT-time constant): 4, so 16 accumulators, with 32 vector registers. With 16 (x64 AVX2),
    /// a 4 × 4 tile's accumulators and operands spilled to the stack every step; 2 × 4 tiles ran 40% faster there
    /// (3 × 4 still spilled).
    /// </summary>
    static int TileRows => Simd.Registers >= 32 ? 4 : 2;

    /// <summary>
    /// Y[m, n] (+)= Σ_j X[m, j] · W[n, j] for m &lt; <paramref name="rows"/>, n in [n0, n1), j &lt; <paramref name="kc"/>
    /// (row strides ldx, ldw, ldy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block<TVec>(float* xb, int ldx, int rows, float* wb, int ldw, int n0, int n1, float* yb, int ldy, int kc, bool add)
        where TVec : struct
    {
        if (rows > StreamWeightsUpToRows)
        {
            // Many rows (prefill): a tile of X stays in L1 while the caller's block of W is read from L2.
            int m = 0;
            for (; m + TileRows <= rows; m += TileRows)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile<TVec>(xb + (long)m * ldx, ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, ldy, kc, add, xb, xb, xb, xb);
            for (; m < rows; m++)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile1x4<TVec>(xb + (long)m * ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, kc, add);
        }
        else
        {
            // Few rows (decode): W streams from memory once, each 4-row tile meeting every row of X while it is in L1.
            for (int n = n0; n + 4 <= n1; n += 4)
            {
                float* w = wb + (long)n * ldw;
                int m = 0;
                // While the tile works, pull the next tile's four rows towards L1, spread over this tile's blocks of X.
                int blocks = rows / TileRows;
                float* next = n + 8 <= n1 ? w + 4L * ldw : w;
                for (int block = 0; m + TileRows <= rows; m += TileRows, block++)
                {
                    float* p0 = block == 0 * blocks / 4 ? next : w, p1 = block == 1 * blocks / 4 ? next + ldw : w;
                    float* p2 = block == 2 * blocks / 4 ? next + 2L * ldw : w, p3 = block == 3 * blocks / 4 ? next + 3L * ldw : w;
                    Tile<TVec>(xb + (long)m * ldx, ldx, w, ldw, yb + (long)m * ldy + n, ldy, kc, add, p0, p1, p2, p3);
                }
                for (; m < rows; m++) Tile1x4<TVec>(xb + (long)m * ldx, w, ldw, yb + (long)m * ldy + n, kc, add);
            }
        }
        for (int n = n0 + (n1 - n0) / 4 * 4; n < n1; n++)
            for (int m = 0; m < rows; m++) Single<TVec>(xb + (long)m * ldx, wb + (long)n * ldw, yb + (long)m * ldy + n, kc, add);
    }

    /// <summary><see cref="TileRows"/> rows of X × 4 rows of W; the rows past it are compiled away.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile<TVec>(float* x, int ldx, float* w, int ldw, float* y, int ldy, int kc, bool add,
        float* prefetch0, float* prefetch1, float* prefetch2, float* prefetch3)
        where TVec : struct
    {
        float* x0 = x, x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        float* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        TVec c00 = default, c01 = default, c02 = default, c03 = default;
        TVec c10 = default, c11 = default, c12 = default, c13 = default;
        TVec c20 = default, c21 = default, c22 = default, c23 = default;
        TVec c30 = default, c31 = default, c32 = default, c33 = default;
        int j = 0;
        for (; j + Simd<TVec>.Count <= kc; j += Simd<TVec>.Count)
        {
            // x64 only (arm64's prefetchers follow the rows on their own), once per 64-byte line.
            if (Sse.IsSupported && (Simd<TVec>.Count == 16 || (j & 15) == 0))
            {
                Sse.Prefetch0(prefetch0 + j);
                Sse.Prefetch0(prefetch1 + j);
                Sse.Prefetch0(prefetch2 + j);
                Sse.Prefetch0(prefetch3 + j);
            }
            var b0 = Simd<TVec>.Load(w0 + j);
            var b1 = Simd<TVec>.Load(w1 + j);
            var b2 = Simd<TVec>.Load(w2 + j);
            var b3 = Simd<TVec>.Load(w3 + j);
            var a = Simd<TVec>.Load(x0 + j);
            c00 = Simd<TVec>.MultiplyAdd(a, b0, c00); c01 = Simd<TVec>.MultiplyAdd(a, b1, c01);
            c02 = Simd<TVec>.MultiplyAdd(a, b2, c02); c03 = Simd<TVec>.MultiplyAdd(a, b3, c03);
            a = Simd<TVec>.Load(x1 + j);
            c10 = Simd<TVec>.MultiplyAdd(a, b0, c10); c11 = Simd<TVec>.MultiplyAdd(a, b1, c11);
            c12 = Simd<TVec>.MultiplyAdd(a, b2, c12); c13 = Simd<TVec>.MultiplyAdd(a, b3, c13);
            if (TileRows > 2)
            {
                a = Simd<TVec>.Load(x2 + j);
                c20 = Simd<TVec>.MultiplyAdd(a, b0, c20); c21 = Simd<TVec>.MultiplyAdd(a, b1, c21);
                c22 = Simd<TVec>.MultiplyAdd(a, b2, c22); c23 = Simd<TVec>.MultiplyAdd(a, b3, c23);
            }
            if (TileRows > 3)
            {
                a = Simd<TVec>.Load(x3 + j);
                c30 = Simd<TVec>.MultiplyAdd(a, b0, c30); c31 = Simd<TVec>.MultiplyAdd(a, b1, c31);
                c32 = Simd<TVec>.MultiplyAdd(a, b2, c32); c33 = Simd<TVec>.MultiplyAdd(a, b3, c33);
            }
        }
        Store(y, Simd<TVec>.Sum4(c00, c01, c02, c03) + Tail4(x0, w0, w1, w2, w3, j, kc), add);
        Store(y + ldy, Simd<TVec>.Sum4(c10, c11, c12, c13) + Tail4(x1, w0, w1, w2, w3, j, kc), add);
        if (TileRows > 2) Store(y + 2 * ldy, Simd<TVec>.Sum4(c20, c21, c22, c23) + Tail4(x2, w0, w1, w2, w3, j, kc), add);
        if (TileRows > 3) Store(y + 3 * ldy, Simd<TVec>.Sum4(c30, c31, c32, c33) + Tail4(x3, w0, w1, w2, w3, j, kc), add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile1x4<TVec>(float* x, float* w, int ldw, float* y, int kc, bool add)
        where TVec : struct
    {
        float* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        TVec c0 = default, c1 = default, c2 = default, c3 = default;
        int j = 0;
        if (Simd<TVec>.Count < 16)
        {
            // Narrower vectors: two per row per step into a second set of sums, or the four FMA chains' latency caps
            // how fast the rows stream (single-threaded 256-bit decode streamed at 70% of the 512-bit rate).
            TVec d0 = default, d1 = default, d2 = default, d3 = default;
            int n = Simd<TVec>.Count;
            for (; j + 2 * n <= kc; j += 2 * n)
            {
                var a = Simd<TVec>.Load(x + j);
                c0 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w0 + j), c0);
                c1 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w1 + j), c1);
                c2 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w2 + j), c2);
                c3 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w3 + j), c3);
                a = Simd<TVec>.Load(x + j + n);
                d0 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w0 + j + n), d0);
                d1 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w1 + j + n), d1);
                d2 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w2 + j + n), d2);
                d3 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w3 + j + n), d3);
            }
            c0 = Simd<TVec>.Add(c0, d0);
            c1 = Simd<TVec>.Add(c1, d1);
            c2 = Simd<TVec>.Add(c2, d2);
            c3 = Simd<TVec>.Add(c3, d3);
        }
        for (; j + Simd<TVec>.Count <= kc; j += Simd<TVec>.Count)
        {
            var a = Simd<TVec>.Load(x + j);
            c0 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w0 + j), c0);
            c1 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w1 + j), c1);
            c2 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w2 + j), c2);
            c3 = Simd<TVec>.MultiplyAdd(a, Simd<TVec>.Load(w3 + j), c3);
        }
        Store(y, Simd<TVec>.Sum4(c0, c1, c2, c3) + Tail4(x, w0, w1, w2, w3, j, kc), add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Single<TVec>(float* x, float* w, float* y, int kc, bool add)
        where TVec : struct
    {
        var c = default(TVec);
        int j = 0;
        for (; j + Simd<TVec>.Count <= kc; j += Simd<TVec>.Count) c = Simd<TVec>.MultiplyAdd(Simd<TVec>.Load(x + j), Simd<TVec>.Load(w + j), c);
        float sum = Simd<TVec>.Sum(c);
        for (; j < kc; j++) sum += x[j] * w[j];
        *y = add ? *y + sum : sum;
    }

    /// <summary>The scalar remainder of four dot products when K is not a multiple of the vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector128<float> Tail4(float* x, float* w0, float* w1, float* w2, float* w3, int from, int to)
    {
        if (from >= to) return Vector128<float>.Zero;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int j = from; j < to; j++)
        {
            s0 += x[j] * w0[j];
            s1 += x[j] * w1[j];
            s2 += x[j] * w2[j];
            s3 += x[j] * w3[j];
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
