using System.Buffers.Binary;

namespace R1Sharp.Quantization;

/// <summary>
/// ggml's 32-value blocks (ggml-common.h), quantized as llama.cpp's reference quantizer does (ggml-quants.c, without an
/// importance matrix), so a file we write holds the blocks llama.cpp would write. All numbers little-endian; d and m are
/// IEEE half floats.
/// <list type="bullet">
/// <item>Q8_0, 34 bytes: d, int8 q[32]; x = q·d, d = amax / 127.</item>
/// <item>Q4_0, 18 bytes: d, q[16]; value j is the low nibble of q[j], value j + 16 the high one; x = (q − 8)·d.</item>
/// <item>Q5_0, 22 bytes: d, qh (32 fifth bits), q[16] as Q4_0; x = (q − 16)·d.</item>
/// <item>Q5_1, 24 bytes: d, m, qh, q[16]; x = q·d + m (the Q5_K_M mix's fallback for rows that are not whole 256-blocks).</item>
/// </list>
/// </summary>
public static class LegacyQuants
{
    public const int BlockSize = 32;
    public const int Q8_0Bytes = 34, Q4_0Bytes = 18, Q5_0Bytes = 22, Q5_1Bytes = 24;

    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q8_0Bytes, Q8_0Bytes);
            float amax = 0;
            foreach (float f in v) amax = MathF.Max(amax, MathF.Abs(f));
            float d = amax / 127, id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            // roundf: halves away from zero
            for (int j = 0; j < BlockSize; j++) block[2 + j] = (byte)(sbyte)MathF.Round(v[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    public static void DequantizeQ8_0(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q8_0Bytes, Q8_0Bytes);
            float d = ReadHalf(block);
            for (int j = 0; j < BlockSize; j++) x[b * BlockSize + j] = (sbyte)block[2 + j] * d;
        }
    }

    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q4_0Bytes, Q4_0Bytes);
            // The value of largest magnitude maps to −8, so its sign is kept in d.
            float max = SignedAbsMax(v);
            float d = max / -8, id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)(v[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)(v[j + 16] * id + 8.5f));
                block[2 + j] = (byte)(lo | hi << 4);
            }
        }
    }

    public static void DequantizeQ4_0(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q4_0Bytes, Q4_0Bytes);
            float d = ReadHalf(block);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                x[b * BlockSize + j] = ((block[2 + j] & 0xF) - 8) * d;
                x[b * BlockSize + j + 16] = ((block[2 + j] >> 4) - 8) * d;
            }
        }
    }

    public static void QuantizeQ5_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q5_0Bytes, Q5_0Bytes);
            float max = SignedAbsMax(v);
            float d = max / -16, id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            uint qh = 0;
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int lo = Math.Min(31, (int)(sbyte)(v[j] * id + 16.5f));
                int hi = Math.Min(31, (int)(sbyte)(v[j + 16] * id + 16.5f));
                block[6 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
                qh |= (uint)(lo >> 4 & 1) << j | (uint)(hi >> 4 & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(block[2..], qh);
        }
    }

    public static void DequantizeQ5_0(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q5_0Bytes, Q5_0Bytes);
            float d = ReadHalf(block);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int lo = (block[6 + j] & 0xF) | (int)(qh >> j & 1) << 4;
                int hi = (block[6 + j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
                x[b * BlockSize + j] = (lo - 16) * d;
                x[b * BlockSize + j + 16] = (hi - 16) * d;
            }
        }
    }

    public static void QuantizeQ5_1(ReadOnlySpan<float> x, Span<byte> y)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var v = x.Slice(b * BlockSize, BlockSize);
            var block = y.Slice(b * Q5_1Bytes, Q5_1Bytes);
            float min = float.MaxValue, max = -float.MaxValue;
            foreach (float f in v)
            {
                if (f < min) min = f;
                if (f > max) max = f;
            }
            float d = (max - min) / 31, id = d != 0 ? 1 / d : 0;
            WriteHalf(block, d);
            WriteHalf(block[2..], min);
            uint qh = 0;
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int lo = (byte)((v[j] - min) * id + 0.5f);
                int hi = (byte)((v[j + 16] - min) * id + 0.5f);
                block[8 + j] = (byte)((lo & 0xF) | (hi & 0xF) << 4);
                qh |= (uint)(lo >> 4 & 1) << j | (uint)(hi >> 4 & 1) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(block[4..], qh);
        }
    }

    public static void DequantizeQ5_1(ReadOnlySpan<byte> y, Span<float> x)
    {
        for (int b = 0; b < x.Length / BlockSize; b++)
        {
            var block = y.Slice(b * Q5_1Bytes, Q5_1Bytes);
            float d = ReadHalf(block), m = ReadHalf(block[2..]);
            uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
            for (int j = 0; j < BlockSize / 2; j++)
            {
                int lo = (block[8 + j] & 0xF) | (int)(qh >> j & 1) << 4;
                int hi = (block[8 + j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
                x[b * BlockSize + j] = lo * d + m;
                x[b * BlockSize + j + 16] = hi * d + m;
            }
        }
    }

    /// <summary>The value of largest magnitude, sign included (the first one on ties).</summary>
    internal static float SignedAbsMax(ReadOnlySpan<float> v)
    {
        float amax = 0, max = 0;
        foreach (float f in v)
        {
            if (amax < MathF.Abs(f))
            {
                amax = MathF.Abs(f);
                max = f;
            }
        }
        return max;
    }

    internal static float ReadHalf(ReadOnlySpan<byte> at) => (float)BinaryPrimitives.ReadHalfLittleEndian(at);

    /// <summary>Rounds to the nearest half (ties to even), as ggml's FP32_TO_FP16.</summary>
    internal static void WriteHalf(Span<byte> at, float value) => BinaryPrimitives.WriteHalfLittleEndian(at, (Half)value);
}
