using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using static R1Sharp.Quantization.LegacyQuants;

namespace R1Sharp.Quantization;

/// <summary>
/// ggml's K-quants: super-blocks of 256 values in sub-blocks whose scales are themselves quantized (ggml-common.h),
/// quantized as llama.cpp's reference quantizer does without an importance matrix (ggml-quants.c: a weighted
/// least-squares search over a few candidate scales per sub-block), so our files hold llama.cpp's blocks.
/// <list type="bullet">
/// <item>Q4_K, 144 bytes: d, dmin (halves), scales[12] (8 six-bit scales and 8 six-bit mins), q[128]; 8 sub-blocks
/// of 32; x = d·sc·q − dmin·m. Each 32-byte run of q holds sub-block 2k in its low nibbles and 2k + 1 in its high ones.</item>
/// <item>Q5_K, 176 bytes: d, dmin, scales[12], qh[32] (the fifth bits), q[128]; as Q4_K with 5-bit q.</item>
/// <item>Q6_K, 210 bytes: ql[128], qh[64], int8 scales[16], d; 16 sub-blocks of 16; x = d·scale·(q − 32).</item>
/// <item>Q8_K, 292 bytes (activations only): float d, int8 q[256], int16 bsums[16] (sums of each 16 q).</item>
/// </list>
/// </summary>
public static class KQuants
{
    public const int BlockSize = 256;
    public const int Q4_KBytes = 144, Q5_KBytes = 176, Q6_KBytes = 210, Q8_KBytes = 292;

    /// <summary>Round to nearest, ties to even (ggml's nearest_int).</summary>
    static int Nearest(float value) => (int)MathF.Round(value);

    public static void QuantizeQ4_K(ReadOnlySpan<float> x, Span<byte> y) => QuantizeScaleMin(x, y, 15, Q4_KBytes);

    public static void QuantizeQ5_K(ReadOnlySpan<float> x, Span<byte> y) => QuantizeScaleMin(x, y, 31, Q5_KBytes);

    /// <summary>Q4_K (<paramref name="nmax"/> 15) and Q5_K (31): a scale and a min per sub-block of 32, both 6-bit.</summary>
    static void QuantizeScaleMin(ReadOnlySpan<float> x, Span<byte> y, int nmax, int blockBytes)
    {
        Span<byte> levels = stackalloc byte[BlockSize];
        Span<byte> trial = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> scales = stackalloc float[8], mins = stackalloc float[8];
        // Q4_K searches 21 candidate scales from nmax − 1, Q5_K 16 from nmax − 0.5.
        var (rmin, steps) = nmax == 15 ? (-1f, 20) : (-0.5f, 15);
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * blockBytes, blockBytes);
            block.Clear();
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                var sub = v.Slice(32 * j, 32);
                float sumX2 = 0;
                foreach (float f in sub) sumX2 += f * f;
                float averageX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = averageX + MathF.Abs(sub[l]);
                scales[j] = ScaleAndMin(nmax, sub, weights, levels.Slice(32 * j, 32), out mins[j], trial, rmin, 0.1f, steps);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            float inverseScale = maxScale > 0 ? 63 / maxScale : 0, inverseMin = maxMin > 0 ? 63 / maxMin : 0;
            var packed = block.Slice(4, 12);
            for (int j = 0; j < 8; j++)
            {
                int ls = Math.Min(63, (int)(byte)Nearest(inverseScale * scales[j]));
                int lm = Math.Min(63, (int)(byte)Nearest(inverseMin * mins[j]));
                PackScaleMin(packed, j, ls, lm);
            }
            WriteHalf(block, maxScale / 63);
            WriteHalf(block[2..], maxMin / 63);

            // Levels again against the scales as stored (rounded to 6 bits and to half precision).
            float d = ReadHalf(block), dmin = ReadHalf(block[2..]);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = ScaleMin(packed, j);
                float ds = d * sc;
                if (ds == 0) continue;
                float dm = dmin * m;
                for (int i = 0; i < 32; i++) levels[32 * j + i] = (byte)Math.Clamp(Nearest((v[32 * j + i] + dm) / ds), 0, nmax);
            }

            if (nmax == 15)
            {
                var q = block.Slice(16, 128);
                for (int k = 0; k < 4; k++)
                    for (int l = 0; l < 32; l++) q[32 * k + l] = (byte)(levels[64 * k + l] | levels[64 * k + 32 + l] << 4);
            }
            else
            {
                var qh = block.Slice(16, 32);
                var q = block.Slice(48, 128);
                for (int k = 0; k < 4; k++)
                    for (int l = 0; l < 32; l++)
                    {
                        int lo = levels[64 * k + l], hi = levels[64 * k + 32 + l];
                        if (lo > 15) { lo -= 16; qh[l] |= (byte)(1 << (2 * k)); }
                        if (hi > 15) { hi -= 16; qh[l] |= (byte)(2 << (2 * k)); }
                        q[32 * k + l] = (byte)(lo | hi << 4);
                    }
            }
        }
    }

    /// <summary>
    /// Scale s and min m (returned as −m ≥ 0) with x ≈ s·L + m, L in [0, nmax], minimising Σ w·(s·L + m − x)²: the
    /// plain min/max fit, then <paramref name="steps"/> + 1 trial scales around it, each refit by weighted least squares.
    /// </summary>
    static float ScaleAndMin(int nmax, ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<byte> levels, out float negatedMin,
        Span<byte> trial, float rmin, float rdelta, int steps)
    {
        int n = x.Length;
        float min = x[0], max = x[0], sumW = w[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            sumW += w[i];
            sumX += w[i] * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            levels.Clear();
            negatedMin = -min;
            return 0;
        }
        float iscale = nmax / (max - min), scale = 1 / iscale, bestError = 0;
        for (int i = 0; i < n; i++)
        {
            levels[i] = (byte)Math.Clamp(Nearest(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * levels[i] + min - x[i];
            bestError += w[i] * (diff * diff);
        }
        for (int step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(Nearest(iscale * (x[i] - min)), 0, nmax);
                trial[i] = (byte)l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0) continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * trial[i] + thisMin - x[i];
                error += w[i] * (diff * diff);
            }
            if (error < bestError)
            {
                trial[..n].CopyTo(levels);
                bestError = error;
                scale = thisScale;
                min = thisMin;
            }
        }
        negatedMin = -min;
        return scale;
    }

    /// <summary>Sub-block j's 6-bit scale and min from the 12 packed bytes: 0–3 whole, 4–7 split low and high bits.</summary>
    public static (int Scale, int Min) ScaleMin(ReadOnlySpan<byte> packed, int j) => j < 4
        ? (packed[j] & 63, packed[j + 4] & 63)
        : ((packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4, (packed[j + 4] >> 4) | (packed[j] >> 6) << 4);

    /// <summary>
    /// All eight pairs of <see cref="ScaleMin"/> at once — scale j in byte j of <c>Scales</c>, min j in byte j of
    /// <c>Mins</c> — by word operations on the 12 packed bytes, as llama.cpp unpacks them (the kernels' per-block step).
    /// </summary>
    // Inlined: a call inside a kernel's block loop makes the JIT spill every vector register around it (all are
    // caller-saved on x64 Unix), which cost the Q4_K kernel more than half its time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (ulong Scales, ulong Mins) ScalesMins(byte* packed)
    {
        uint u0 = Unsafe.ReadUnaligned<uint>(packed), u1 = Unsafe.ReadUnaligned<uint>(packed + 4), u2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        const uint six = 0x3F3F3F3F, four = 0x0F0F0F0F, two = 0x03030303;
        // Pairs 0–3 are the low 6 bits of bytes 0–3 (scales) and 4–7 (mins); pairs 4–7 take their low 4 bits from a
        // nibble of bytes 8–11 and their top 2 bits from the spare top bits of bytes 0–3 (scales) and 4–7 (mins).
        uint scalesLow = u0 & six, minsLow = u1 & six;
        uint scalesHigh = (u2 & four) | ((u0 >> 6) & two) << 4;
        uint minsHigh = ((u2 >> 4) & four) | ((u1 >> 6) & two) << 4;
        return (scalesLow | (ulong)scalesHigh << 32, minsLow | (ulong)minsHigh << 32);
    }

    static void PackScaleMin(Span<byte> packed, int j, int scale, int min)
    {
        if (j < 4)
        {
            packed[j] = (byte)scale;
            packed[j + 4] = (byte)min;
        }
        else
        {
            packed[j + 4] = (byte)((scale & 0xF) | (min & 0xF) << 4);
            packed[j - 4] |= (byte)(scale >> 4 << 6);
            packed[j] |= (byte)(min >> 4 << 6);
        }
    }

    public static void DequantizeQ4_K(ReadOnlySpan<byte> y, Span<float> x) => DequantizeScaleMin(y, x, Q4_KBytes);

    public static void DequantizeQ5_K(ReadOnlySpan<byte> y, Span<float> x) => DequantizeScaleMin(y, x, Q5_KBytes);

    static void DequantizeScaleMin(ReadOnlySpan<byte> y, Span<float> x, int blockBytes)
    {
        bool five = blockBytes == Q5_KBytes;
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * blockBytes, blockBytes);
            var packed = block.Slice(4, 12);
            var qh = five ? block.Slice(16, 32) : default;
            var q = block.Slice(five ? 48 : 16, 128);
            float d = ReadHalf(block), dmin = ReadHalf(block[2..]);
            var output = x.Slice(b * BlockSize, BlockSize);
            for (int k = 0; k < 4; k++)
            {
                var (sc0, m0) = ScaleMin(packed, 2 * k);
                var (sc1, m1) = ScaleMin(packed, 2 * k + 1);
                float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
                for (int l = 0; l < 32; l++)
                {
                    int lo = q[32 * k + l] & 0xF, hi = q[32 * k + l] >> 4;
                    if (five)
                    {
                        lo += (qh[l] >> (2 * k) & 1) << 4;
                        hi += (qh[l] >> (2 * k + 1) & 1) << 4;
                    }
                    output[64 * k + l] = d0 * lo - min0;
                    output[64 * k + 32 + l] = d1 * hi - min1;
                }
            }
        }
    }

    public static void QuantizeQ6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<sbyte> levels = stackalloc sbyte[BlockSize];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q6_KBytes, Q6_KBytes);
            block.Clear();
            float maxScale = 0, maxAbsScale = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = SymmetricScale(32, v.Slice(16 * j, 16), levels.Slice(16 * j, 16));
                if (MathF.Abs(scales[j]) > maxAbsScale)
                {
                    maxAbsScale = MathF.Abs(scales[j]);
                    maxScale = scales[j];
                }
            }
            if (maxAbsScale < 1e-15f) continue; // all zero: d = 0

            float iscale = -128f / maxScale;
            WriteHalf(block[208..], 1 / iscale);
            var blockScales = block.Slice(192, 16);
            for (int j = 0; j < 16; j++) blockScales[j] = (byte)(sbyte)Math.Min(127, Nearest(iscale * scales[j]));

            float d = ReadHalf(block[208..]);
            for (int j = 0; j < 16; j++)
            {
                float ds = d * (sbyte)blockScales[j];
                if (ds == 0) continue;
                for (int i = 0; i < 16; i++) levels[16 * j + i] = (sbyte)(Math.Clamp(Nearest(v[16 * j + i] / ds), -32, 31) + 32);
            }

            var ql = block[..128];
            var qh = block.Slice(128, 64);
            for (int half = 0; half < 2; half++)
                for (int l = 0; l < 32; l++)
                {
                    int at = 128 * half + l;
                    int q1 = levels[at], q2 = levels[at + 32], q3 = levels[at + 64], q4 = levels[at + 96];
                    ql[64 * half + l] = (byte)((q1 & 0xF) | (q3 & 0xF) << 4);
                    ql[64 * half + 32 + l] = (byte)((q2 & 0xF) | (q4 & 0xF) << 4);
                    qh[32 * half + l] = (byte)(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
                }
        }
    }

    /// <summary>
    /// A signed scale for x ≈ scale·L, L in [−nmax, nmax − 1] (stored as L + nmax): the value of largest magnitude maps
    /// to −nmax, then 18 nearby scales are tried, keeping the best by Σ x²·(x − scale·L)² (ggml's make_qx_quants, rmse_type 1).
    /// </summary>
    static float SymmetricScale(int nmax, ReadOnlySpan<float> x, Span<sbyte> levels)
    {
        int n = x.Length;
        float max = LegacyQuants.SignedAbsMax(x);
        if (MathF.Abs(max) < 1e-15f)
        {
            levels[..n].Clear();
            return 0;
        }
        float iscale = -nmax / max, sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Clamp(Nearest(iscale * x[i]), -nmax, nmax - 1);
            levels[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0, best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(Nearest(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++) levels[i] = (sbyte)(Math.Clamp(Nearest(iscale * x[i]), -nmax, nmax - 1) + nmax);
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    public static void DequantizeQ6_K(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q6_KBytes, Q6_KBytes);
            float d = ReadHalf(block[208..]);
            var output = x.Slice(b * BlockSize, BlockSize);
            for (int half = 0; half < 2; half++)
            {
                var ql = block.Slice(64 * half, 64);
                var qh = block.Slice(128 + 32 * half, 32);
                var sc = block.Slice(192 + 8 * half, 8);
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (qh[l] & 3) << 4) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (qh[l] >> 2 & 3) << 4) - 32;
                    int q3 = ((ql[l] >> 4) | (qh[l] >> 4 & 3) << 4) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4) - 32;
                    output[128 * half + l] = d * (sbyte)sc[s] * q1;
                    output[128 * half + l + 32] = d * (sbyte)sc[s + 2] * q2;
                    output[128 * half + l + 64] = d * (sbyte)sc[s + 4] * q3;
                    output[128 * half + l + 96] = d * (sbyte)sc[s + 6] * q4;
                }
            }
        }
    }

    /// <summary>Q8_K: q = round(−127·x / max), the value of largest magnitude giving ∓127; bsums of each 16.</summary>
    public static void QuantizeQ8_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q8_KBytes, Q8_KBytes);
            block.Clear();
            float max = LegacyQuants.SignedAbsMax(v);
            if (max == 0) continue;
            float iscale = -127f / max;
            for (int j = 0; j < BlockSize; j++) block[4 + j] = (byte)(sbyte)Math.Min(127, Nearest(iscale * v[j]));
            for (int j = 0; j < 16; j++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += (sbyte)block[4 + 16 * j + i];
                BinaryPrimitives.WriteInt16LittleEndian(block[(260 + 2 * j)..], (short)sum);
            }
            BinaryPrimitives.WriteSingleLittleEndian(block, 1 / iscale);
        }
    }

    public static void DequantizeQ8_K(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q8_KBytes, Q8_KBytes);
            float d = BinaryPrimitives.ReadSingleLittleEndian(block);
            for (int j = 0; j < BlockSize; j++) x[b * BlockSize + j] = d * (sbyte)block[4 + j];
        }
    }
}
