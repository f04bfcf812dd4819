using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace R1Sharp.Inference;

/// <summary>
/// Rows of activations quantized to 8-bit blocks, as llama.cpp quantizes a matrix product's input to its weights'
/// <c>vec_dot_type</c>: blocks of 32 (Q8_0: d = amax / 127, for Q8_0, Q4_0, Q5_0 and Q5_1 weights) or 256 (Q8_K:
/// d = −max / 127 with max the value of largest magnitude, for the K-quants), rounding to nearest even. Kept as three
/// arrays per row — the bytes, one scale per block, and the sum of each 16 bytes (the weights' offsets and mins multiply
/// those; also as 16-bit sums of 16 and of 32 for <see cref="QuantizedPanels"/>) — so the kernels load 32 activation bytes at a time. A Q8_0 block's scale is rounded to half precision, as
/// the block format stores it (llama.cpp's products use the rounded scale; keeping the float one moves logits by 1%).
/// For Q5_1 weights llama.cpp quantizes activations to Q8_1 instead: the same bytes and scale, plus the block's
/// s = d·Σq with d = amax / 127 unrounded and s rounded to half precision, which multiplies the weights' min m. Q5_1's
/// m·s nearly cancels its d·Σq·a term, so that rounding shows in the result: <see cref="BlockSums"/> keeps s per 32-block.
/// </summary>
sealed unsafe class QuantizedActivations
{
    readonly NativeBuffer buffer = new();
    long rowStride;

    public int Rows { get; private set; }
    public int Columns { get; private set; }
    /// <summary>32 (Q8_0) or 256 (Q8_K).</summary>
    public int BlockSize { get; private set; }

    /// <summary>Row <paramref name="row"/>'s bytes.</summary>
    public sbyte* Q(int row) => (sbyte*)buffer.Get(0) + row * rowStride;

    /// <summary>Row <paramref name="row"/>'s scales, one per block.</summary>
    public float* Scales(int row) => (float*)((byte*)Q(row) + Columns);

    /// <summary>Row <paramref name="row"/>'s sums of each 16 bytes.</summary>
    public int* Sums(int row) => (int*)(Scales(row) + Columns / BlockSize);

    /// <summary>Row <paramref name="row"/>'s Q8_1 block sums s = fp16(d·Σq), one per 32-block (32-blocks only).</summary>
    public float* BlockSums(int row) => (float*)(Sums(row) + Columns / 16);

    /// <summary>Row <paramref name="row"/>'s sums of each 16 bytes as 16-bit values (the panel kernels read them in pairs).</summary>
    public short* Sums16(int row) => (short*)(BlockSums(row) + Columns / BlockSize);

    /// <summary>Row <paramref name="row"/>'s sums of each 32 bytes as 16-bit values.</summary>
    public short* Sums32(int row) => Sums16(row) + Columns / 16;

    /// <summary>Makes room for <paramref name="rows"/> rows of <paramref name="columns"/> (a multiple of <paramref name="blockSize"/>).</summary>
    public void Prepare(int rows, int columns, int blockSize)
    {
        if (columns % blockSize != 0) throw new ArgumentException($"rows of {columns} values are not whole {blockSize}-blocks");
        Rows = rows;
        Columns = columns;
        BlockSize = blockSize;
        // Bytes, a float per block, an int per 16, a float per block, a short per 16 and per 32; rounded up to 64 bytes so
        // each row starts on a cache line.
        rowStride = (columns + 8L * (columns / blockSize) + 4L * (columns / 16) + 2L * (columns / 16) + 2L * (columns / 32) + 63) & ~63L;
        buffer.Get((rows * rowStride + 3) / 4);
    }

    /// <summary>Quantizes row <paramref name="row"/> from <paramref name="x"/> (in vectors where accelerated).</summary>
    public void QuantizeRow(int row, float* x)
    {
        for (int b = 0; b < Columns / BlockSize; b++)
        {
            float* v = x + b * BlockSize;
            sbyte* q = Q(row) + b * BlockSize;
            float d = Vector256.IsHardwareAccelerated ? QuantizeBlock<Vector256<float>>(v, q, BlockSize)
                : Vector128.IsHardwareAccelerated ? QuantizeBlock<Vector128<float>>(v, q, BlockSize)
                : ReferenceBlock(v, q, BlockSize);
            StoreBlock(row, b, d);
        }
    }

    /// <summary>The scalar reference of <see cref="QuantizeRow"/> (tests hold the two equal, byte for byte).</summary>
    public void ReferenceRow(int row, float* x)
    {
        for (int b = 0; b < Columns / BlockSize; b++) StoreBlock(row, b, ReferenceBlock(x + b * BlockSize, Q(row) + b * BlockSize, BlockSize));
    }

    /// <summary>
    /// Block <paramref name="b"/>'s scale, sums of 16 and (32-blocks) Q8_1 sum from its bytes and unrounded scale
    /// <paramref name="d"/>: a 32-block's scale is stored as a half, as Q8_0 and Q8_1 store it; Q8_K's stays a float.
    /// </summary>
    void StoreBlock(int row, int b, float d)
    {
        sbyte* q = Q(row) + b * BlockSize;
        int* sums = Sums(row) + b * (BlockSize / 16);
        short* sums16 = Sums16(row) + b * (BlockSize / 16), sums32 = Sums32(row) + b * (BlockSize / 32);
        int total = 0;
        for (int g = 0; g < BlockSize / 16; g++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += q[16 * g + i];
            sums[g] = sum;
            sums16[g] = (short)sum;
            if (g % 2 == 1) sums32[g / 2] = (short)(sums[g - 1] + sum);
            total += sum;
        }
        Scales(row)[b] = BlockSize == 32 ? (float)(Half)d : d;
        if (BlockSize == 32) BlockSums(row)[b] = (float)(Half)(d * total);
    }

    /// <summary>
    /// One block: the scale d with x ≈ d·q, unrounded. Q8_0 scales by amax / 127; Q8_K by −max / 127 (max signed), as llama.cpp.
    /// </summary>
    static float ReferenceBlock(float* x, sbyte* q, int n)
    {
        float amax = 0, max = 0;
        for (int i = 0; i < n; i++)
        {
            if (MathF.Abs(x[i]) > amax)
            {
                amax = MathF.Abs(x[i]);
                max = x[i];
            }
        }
        if (n == 32)
        {
            float id = amax != 0 ? 127f / amax : 0;
            for (int i = 0; i < n; i++) q[i] = (sbyte)MathF.Round(x[i] * id);
            return amax / 127f;
        }
        if (amax == 0)
        {
            new Span<sbyte>(q, n).Clear();
            return 0;
        }
        float iscale = -127f / max;
        for (int i = 0; i < n; i++) q[i] = (sbyte)Math.Min(127, (int)MathF.Round(iscale * x[i]));
        return 1 / iscale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float QuantizeBlock<TVec>(float* x, sbyte* q, int n) where TVec : struct
    {
        int w = typeof(TVec) == typeof(Vector256<float>) ? 8 : 4;
        // amax over the block, then the first value of that magnitude (for Q8_K's sign).
        float amax = 0;
        if (w == 8)
        {
            var m = Vector256<float>.Zero;
            for (int i = 0; i < n; i += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + i)));
            amax = Max(m.GetLower(), m.GetUpper());
        }
        else
        {
            var m = Vector128<float>.Zero;
            for (int i = 0; i < n; i += 4) m = Vector128.Max(m, Vector128.Abs(Vector128.Load(x + i)));
            amax = Max(m, m);
        }
        float scale, d;
        if (n == 32)
        {
            scale = amax != 0 ? 127f / amax : 0;
            d = amax / 127f;
        }
        else
        {
            if (amax == 0)
            {
                new Span<sbyte>(q, n).Clear();
                return 0;
            }
            float max = 0;
            for (int i = 0; i < n; i++)
                if (MathF.Abs(x[i]) == amax)
                {
                    max = x[i];
                    break;
                }
            scale = -127f / max;
            d = 1 / scale;
        }
        // |x·scale| ≤ 127, so narrowing int32 → int16 → int8 keeps every value.
        if (w == 8)
        {
            var s = Vector256.Create(scale);
            for (int i = 0; i < n; i += 32)
            {
                var a = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i) * s));
                var b = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 8) * s));
                var c = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 16) * s));
                var e = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 24) * s));
                Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, e)).Store(q + i);
            }
        }
        else
        {
            var s = Vector128.Create(scale);
            for (int i = 0; i < n; i += 16)
            {
                var a = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i) * s));
                var b = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 4) * s));
                var c = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 8) * s));
                var e = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + i + 12) * s));
                Vector128.Narrow(Vector128.Narrow(a, b), Vector128.Narrow(c, e)).Store(q + i);
            }
        }
        return d;
    }

    static float Max(Vector128<float> a, Vector128<float> b)
    {
        var m = Vector128.Max(a, b);
        return MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
    }
}
