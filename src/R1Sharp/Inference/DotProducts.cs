using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace R1Sharp.Inference;

/// <summary>
/// Dot products of rows of X with rows of W along K in 16-float AVX-512 vectors, 4 rows of X × 4 rows of W per
/// tile: each vector loaded feeds 4 FMAs, so batch-1 decode is bound by memory bandwidth and larger batches by
/// the FMA units. Row-by-row dots suit nn.Linear's [N, K] weights as stored: nothing is repacked.
/// </summary>
static unsafe class DotProducts
{
    /// <summary>Above this many rows of X, tiles of X are the outer loop (X no longer fits in L1 beside a tile of W).</summary>
    const int StreamWeightsUpToRows = 16;

    /// <summary>
    /// Y[m, n] (+)= Σ_j X[m, j] · W[n, j] for m &lt; <paramref name="rows"/>, n in [n0, n1), j &lt; <paramref name="kc"/>
    /// (row strides ldx, ldw, ldy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(float* xb, int ldx, int rows, float* wb, int ldw, int n0, int n1, float* yb, int ldy, int kc, bool add)
    {
        if (rows > StreamWeightsUpToRows)
        {
            // Many rows (prefill): a 4-row tile of X stays in L1 while the caller's block of W is read from L2.
            int m = 0;
            for (; m + 4 <= rows; m += 4)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile4x4(xb + (long)m * ldx, ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, ldy, kc, add, xb, xb, xb, xb);
            for (; m < rows; m++)
                for (int n = n0; n + 4 <= n1; n += 4)
                    Tile1x4(xb + (long)m * ldx, wb + (long)n * ldw, ldw, yb + (long)m * ldy + n, kc, add);
        }
        else
        {
            // Few rows (decode): W streams from memory once, each 4-row tile meeting every row of X while it is in L1.
            for (int n = n0; n + 4 <= n1; n += 4)
            {
                float* w = wb + (long)n * ldw;
                int m = 0;
                // While the tile works, pull the next tile's four rows towards L1, spread over this tile's blocks of X.
                int blocks = rows / 4;
                float* next = n + 8 <= n1 ? w + 4L * ldw : w;
                for (int block = 0; m + 4 <= rows; m += 4, block++)
                {
                    float* p0 = block == 0 * blocks / 4 ? next : w, p1 = block == 1 * blocks / 4 ? next + ldw : w;
                    float* p2 = block == 2 * blocks / 4 ? next + 2L * ldw : w, p3 = block == 3 * blocks / 4 ? next + 3L * ldw : w;
                    Tile4x4(xb + (long)m * ldx, ldx, w, ldw, yb + (long)m * ldy + n, ldy, kc, add, p0, p1, p2, p3);
                }
                for (; m < rows; m++) Tile1x4(xb + (long)m * ldx, w, ldw, yb + (long)m * ldy + n, kc, add);
            }
        }
        for (int n = n0 + (n1 - n0) / 4 * 4; n < n1; n++)
            for (int m = 0; m < rows; m++) Single(xb + (long)m * ldx, wb + (long)n * ldw, yb + (long)m * ldy + n, kc, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x4(float* x, int ldx, float* w, int ldw, float* y, int ldy, int kc, bool add,
        float* prefetch0, float* prefetch1, float* prefetch2, float* prefetch3)
    {
        float* x0 = x, x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        float* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        int j = 0;
        for (; j + 16 <= kc; j += 16)
        {
            Sse.Prefetch0(prefetch0 + j);
            Sse.Prefetch0(prefetch1 + j);
            Sse.Prefetch0(prefetch2 + j);
            Sse.Prefetch0(prefetch3 + j);
            var b0 = Vector512.Load(w0 + j);
            var b1 = Vector512.Load(w1 + j);
            var b2 = Vector512.Load(w2 + j);
            var b3 = Vector512.Load(w3 + j);
            var a = Vector512.Load(x0 + j);
            c00 = Avx512F.FusedMultiplyAdd(a, b0, c00); c01 = Avx512F.FusedMultiplyAdd(a, b1, c01);
            c02 = Avx512F.FusedMultiplyAdd(a, b2, c02); c03 = Avx512F.FusedMultiplyAdd(a, b3, c03);
            a = Vector512.Load(x1 + j);
            c10 = Avx512F.FusedMultiplyAdd(a, b0, c10); c11 = Avx512F.FusedMultiplyAdd(a, b1, c11);
            c12 = Avx512F.FusedMultiplyAdd(a, b2, c12); c13 = Avx512F.FusedMultiplyAdd(a, b3, c13);
            a = Vector512.Load(x2 + j);
            c20 = Avx512F.FusedMultiplyAdd(a, b0, c20); c21 = Avx512F.FusedMultiplyAdd(a, b1, c21);
            c22 = Avx512F.FusedMultiplyAdd(a, b2, c22); c23 = Avx512F.FusedMultiplyAdd(a, b3, c23);
            a = Vector512.Load(x3 + j);
            c30 = Avx512F.FusedMultiplyAdd(a, b0, c30); c31 = Avx512F.FusedMultiplyAdd(a, b1, c31);
            c32 = Avx512F.FusedMultiplyAdd(a, b2, c32); c33 = Avx512F.FusedMultiplyAdd(a, b3, c33);
        }
        Store(y, Sum4(c00, c01, c02, c03) + Tail4(x0, w0, w1, w2, w3, j, kc), add);
        Store(y + ldy, Sum4(c10, c11, c12, c13) + Tail4(x1, w0, w1, w2, w3, j, kc), add);
        Store(y + 2 * ldy, Sum4(c20, c21, c22, c23) + Tail4(x2, w0, w1, w2, w3, j, kc), add);
        Store(y + 3 * ldy, Sum4(c30, c31, c32, c33) + Tail4(x3, w0, w1, w2, w3, j, kc), add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile1x4(float* x, float* w, int ldw, float* y, int kc, bool add)
    {
        float* w0 = w, w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        int j = 0;
        for (; j + 16 <= kc; j += 16)
        {
            var a = Vector512.Load(x + j);
            c0 = Avx512F.FusedMultiplyAdd(a, Vector512.Load(w0 + j), c0);
            c1 = Avx512F.FusedMultiplyAdd(a, Vector512.Load(w1 + j), c1);
            c2 = Avx512F.FusedMultiplyAdd(a, Vector512.Load(w2 + j), c2);
            c3 = Avx512F.FusedMultiplyAdd(a, Vector512.Load(w3 + j), c3);
        }
        Store(y, Sum4(c0, c1, c2, c3) + Tail4(x, w0, w1, w2, w3, j, kc), add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Single(float* x, float* w, float* y, int kc, bool add)
    {
        var c = Vector512<float>.Zero;
        int j = 0;
        for (; j + 16 <= kc; j += 16) c = Avx512F.FusedMultiplyAdd(Vector512.Load(x + j), Vector512.Load(w + j), c);
        float sum = Vector512.Sum(c);
        for (; j < kc; j++) sum += x[j] * w[j];
        *y = add ? *y + sum : sum;
    }

    /// <summary>The scalar remainder of four dot products when K is not a multiple of 16.</summary>
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

    /// <summary>The horizontal sums of four vectors as one 4-vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var a8 = a.GetLower() + a.GetUpper();
        var b8 = b.GetLower() + b.GetUpper();
        var c8 = c.GetLower() + c.GetUpper();
        var d8 = d.GetLower() + d.GetUpper();
        var a4 = a8.GetLower() + a8.GetUpper();
        var b4 = b8.GetLower() + b8.GetUpper();
        var c4 = c8.GetLower() + c8.GetUpper();
        var d4 = d8.GetLower() + d8.GetUpper();
        return Sse3.HorizontalAdd(Sse3.HorizontalAdd(a4, b4), Sse3.HorizontalAdd(c4, d4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static void Store(float* y, Vector128<float> v, bool add)
    {
        if (add) v += Vector128.Load(y);
        v.Store(y);
    }
}
