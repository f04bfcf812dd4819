using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using R1Sharp.Gguf;

namespace R1Sharp.Quantization;

/// <summary>
/// Rows of values in the ggml element types R1Sharp reads and writes: F32, F16, BF16 and the quantized Q8_0, Q4_0,
/// Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (what Q8_0, Q4_K_M and Q5_K_M files hold). Quantizing rounds as llama.cpp's reference
/// quantizer does (<see cref="LegacyQuants"/>, <see cref="KQuants"/>); dequantizing is exact up to float rounding.
/// </summary>
public static class GgmlQuants
{
    static readonly HashSet<GgmlType> Supported =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    /// <summary>Whether R1Sharp can read (and write) tensors of <paramref name="type"/>.</summary>
    public static bool IsSupported(GgmlType type) => Supported.Contains(type);

    /// <summary>The supported types, for error messages.</summary>
    public static string SupportedList => string.Join(", ", Supported);

    /// <summary>
    /// How many activation values share one 8-bit scale when multiplied with weights of <paramref name="type"/>, as
    /// llama.cpp's CPU backend quantizes them (its vec_dot_type): 256 (Q8_K) for the K-quants, 32 (Q8_0) for the
    /// 32-blocks, 0 for float weights (activations stay float).
    /// </summary>
    public static int ActivationBlock(GgmlType type) => type switch
    {
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => 256,
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1 => 32,
        _ => 0,
    };

    /// <summary>
    /// <paramref name="x"/> (last dimension a multiple of <paramref name="blockSize"/>) with each block rounded to
    /// 8 bits as the integer kernels quantize it — Q8_0: scale amax/127 stored as a half; Q8_K: −127/max with max the
    /// signed value of largest magnitude — and multiplied back: the libtorch path then computes what the kernels do.
    /// </summary>
    public static TorchSharp.torch.Tensor RoundActivations(TorchSharp.torch.Tensor x, int blockSize)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var shape = x.shape;
        var blocks = x.to(TorchSharp.torch.float32).reshape(-1, shape[^1] / blockSize, blockSize);
        TorchSharp.torch.Tensor rounded;
        if (blockSize == 32)
        {
            var amax = blocks.abs().amax([-1L], keepdim: true);
            var scale = (amax / 127f).to(TorchSharp.torch.float16).to(TorchSharp.torch.float32);
            var inverse = TorchSharp.torch.where(amax > 0, 127f / amax, TorchSharp.torch.zeros_like(amax));
            rounded = (blocks * inverse).round() * scale;
        }
        else
        {
            var index = blocks.abs().argmax(-1, keepdim: true);
            var max = blocks.gather(-1, index);
            var safe = TorchSharp.torch.where(max == 0, TorchSharp.torch.ones_like(max), max);
            var iscale = -127f / safe;
            rounded = TorchSharp.torch.where(max == 0, TorchSharp.torch.zeros_like(blocks), (iscale * blocks).round().clamp_max(127) * (1f / iscale));
        }
        return rounded.reshape(shape).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// For Q5_1 weights, what llama.cpp's product adds to the product of <see cref="RoundActivations"/>(x, 32) with the
    /// dequantized weights: it multiplies x by Q8_1 blocks, whose sum s = d·Σq (d = amax / 127 unrounded) is stored as a
    /// half and multiplies each weight block's min m, where the dequantized product has m·fp16(d)·Σq. Returns
    /// s − fp16(d)·Σq per block, [..., columns / 32]; times the weights' mins [rows, columns / 32] (transposed), it is
    /// the difference. (Q5_1's m·s nearly cancels its d·Σq·a term, so the rounding of s shows in the result.)
    /// </summary>
    public static TorchSharp.torch.Tensor Q8_1SumCorrection(TorchSharp.torch.Tensor x)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var shape = x.shape;
        var blocks = x.to(TorchSharp.torch.float32).reshape(-1, shape[^1] / 32, 32);
        var amax = blocks.abs().amax([-1L]);
        var d = amax / 127f;
        var inverse = TorchSharp.torch.where(amax > 0, 127f / amax, TorchSharp.torch.zeros_like(amax));
        var sum = (blocks * inverse.unsqueeze(-1)).round().sum(-1);
        static TorchSharp.torch.Tensor Half(TorchSharp.torch.Tensor t) => t.to(TorchSharp.torch.float16).to(TorchSharp.torch.float32);
        var correction = Half(d * sum) - Half(d) * sum;
        return correction.reshape([.. shape[..^1], shape[^1] / 32]).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Bytes of one row of <paramref name="length"/> values (a whole number of blocks).</summary>
    public static long RowBytes(GgmlType type, long length) =>
        GgmlTypes.ByteSize(type, [length]) ?? throw new ArgumentException($"a row of {length} values is not a whole number of {type} blocks");

    /// <summary>Quantizes <paramref name="x"/> (a whole number of blocks; rows laid end to end) into <paramref name="y"/>.</summary>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> x, Span<byte> y)
    {
        CheckLengths(type, x.Length, y.Length);
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(x).CopyTo(y); break;
            case GgmlType.F16: TensorPrimitives.ConvertToHalf(x, MemoryMarshal.Cast<byte, Half>(y)); break;
            case GgmlType.BF16: ToBFloat16(x, MemoryMarshal.Cast<byte, ushort>(y)); break;
            case GgmlType.Q8_0: LegacyQuants.QuantizeQ8_0(x, y); break;
            case GgmlType.Q4_0: LegacyQuants.QuantizeQ4_0(x, y); break;
            case GgmlType.Q5_0: LegacyQuants.QuantizeQ5_0(x, y); break;
            case GgmlType.Q5_1: LegacyQuants.QuantizeQ5_1(x, y); break;
            case GgmlType.Q4_K: KQuants.QuantizeQ4_K(x, y); break;
            case GgmlType.Q5_K: KQuants.QuantizeQ5_K(x, y); break;
            case GgmlType.Q6_K: KQuants.QuantizeQ6_K(x, y); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Values of the blocks in <paramref name="y"/>, written to <paramref name="x"/> (whose length says how many).</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> y, Span<float> x)
    {
        CheckLengths(type, x.Length, y.Length);
        switch (type)
        {
            case GgmlType.F32: y[..(4 * x.Length)].CopyTo(MemoryMarshal.AsBytes(x)); break;
            case GgmlType.F16: TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(y)[..x.Length], x); break;
            case GgmlType.BF16: FromBFloat16(MemoryMarshal.Cast<byte, ushort>(y)[..x.Length], x); break;
            case GgmlType.Q8_0: LegacyQuants.DequantizeQ8_0(y, x); break;
            case GgmlType.Q4_0: LegacyQuants.DequantizeQ4_0(y, x); break;
            case GgmlType.Q5_0: LegacyQuants.DequantizeQ5_0(y, x); break;
            case GgmlType.Q5_1: LegacyQuants.DequantizeQ5_1(y, x); break;
            case GgmlType.Q4_K: KQuants.DequantizeQ4_K(y, x); break;
            case GgmlType.Q5_K: KQuants.DequantizeQ5_K(y, x); break;
            case GgmlType.Q6_K: KQuants.DequantizeQ6_K(y, x); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Quantizes into a new array.</summary>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> x)
    {
        var y = new byte[RowBytes(type, x.Length)];
        Quantize(type, x, y);
        return y;
    }

    /// <summary>
    /// Quantizes rows of <paramref name="rowLength"/> values into a new array, rows in parallel (blocks never span
    /// rows, so the result is the same as one sequential pass).
    /// </summary>
    public static byte[] QuantizeRows(GgmlType type, float[] x, int rowLength)
    {
        long rowBytes = RowBytes(type, rowLength);
        int rows = x.Length / rowLength;
        var y = new byte[rowBytes * rows];
        const int RowsPerChunk = 16;
        Parallel.For(0, (rows + RowsPerChunk - 1) / RowsPerChunk, chunk =>
        {
            int first = chunk * RowsPerChunk, count = Math.Min(RowsPerChunk, rows - first);
            Quantize(type, x.AsSpan(first * rowLength, count * rowLength), y.AsSpan((int)(first * rowBytes), (int)(count * rowBytes)));
        });
        return y;
    }

    static void CheckLengths(GgmlType type, int values, int bytes)
    {
        if (!IsSupported(type)) throw Unsupported(type);
        long needed = GgmlTypes.ByteSize(type, [values])
            ?? throw new ArgumentException($"{values} values are not a whole number of {type} blocks ({GgmlTypes.BlockSize(type)} each)");
        if (bytes < needed) throw new ArgumentException($"{values} {type} values take {needed} bytes, got {bytes}");
    }

    static R1Error Unsupported(GgmlType type) => new($"tensor type {type} is not supported (supported: {SupportedList})");

    /// <summary>float32 → bfloat16, rounding to nearest even; NaNs stay (quiet) NaNs, as ggml's conversion.</summary>
    public static void ToBFloat16(ReadOnlySpan<float> x, Span<ushort> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = ToBFloat16(x[i]);
    }

    /// <summary>One value's bfloat16: round to nearest even; a NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        return (u & 0x7fffffff) > 0x7f800000 ? (ushort)(u >> 16 | 64) : (ushort)((u + (0x7fff + (u >> 16 & 1))) >> 16);
    }

    /// <summary>bfloat16 → float32 (the upper half of the float's bits), in vectors where they are accelerated.</summary>
    public static void FromBFloat16(ReadOnlySpan<ushort> y, Span<float> x)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bits = MemoryMarshal.Cast<float, uint>(x);
            for (; i + 16 <= y.Length; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(y.Slice(i, 16)));
                Vector256.ShiftLeft(lo, 16).CopyTo(bits.Slice(i, 8));
                Vector256.ShiftLeft(hi, 16).CopyTo(bits.Slice(i + 8, 8));
            }
        }
        for (; i < y.Length; i++) x[i] = BitConverter.UInt32BitsToSingle((uint)y[i] << 16);
    }
}
