using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace R1Sharp.Inference;

/// <summary>
/// Byte-vector operations for the integer dot products of <see cref="QuantizedDots"/>, written once for
/// <typeparamref name="TVec"/> = <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or <see cref="Vector128{T}"/> of
/// byte (as <see cref="Simd{TVec}"/> does for floats; the JIT folds the type tests). A vector holds bytes, 16-bit or
/// 32-bit integers, or floats by turns. x64 multiplies unsigned by signed bytes into 16-bit pair sums (pmaddubsw) and
/// those by 16-bit scales into 32-bit sums (pmaddwd), or uses AVX-VNNI's one-step vpdpbusd where the CPU has it (128 and
/// 256 bits: .NET 10 exposes no 512-bit vpdpbusd — AVX512-VNNI — so the 512-bit path takes the two steps on zmm
/// registers); arm64 uses the signed dot product (sdot) where it exists and widening multiplies where not. Weights enter
/// as unsigned levels below 128 (or, for Q8_0, signed bytes) and activations as signed bytes, so no 16-bit sum can saturate.
/// At 512 bits only what the Q8_0 kernel uses is here (Load, Join, DotSigned, MultiplyAdd with two scales, SumFloats):
/// the 512-bit K-quant kernels in <see cref="QuantizedDots"/> build their own scale vectors.
/// </summary>
static unsafe class Int8Simd<TVec> where TVec : struct
{
    /// <summary>Bytes per vector: 64, 32 or 16 (a JIT-time constant).</summary>
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TVec) == typeof(Vector512<byte>) ? 64 : typeof(TVec) == typeof(Vector256<byte>) ? 32 : 16;
    }

    static bool Is512
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TVec) == typeof(Vector512<byte>);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Load(void* p) => Is512 ? As(Vector512.Load((byte*)p))
        : typeof(TVec) == typeof(Vector256<byte>) ? As(Vector256.Load((byte*)p)) : As(Vector128.Load((byte*)p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Broadcast(byte value) => typeof(TVec) == typeof(Vector256<byte>) ? As(Vector256.Create(value)) : As(Vector128.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec And(TVec a, TVec b) => typeof(TVec) == typeof(Vector256<byte>) ? As(B256(a) & B256(b)) : As(B128(a) & B128(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Or(TVec a, TVec b) => typeof(TVec) == typeof(Vector256<byte>) ? As(B256(a) | B256(b)) : As(B128(a) | B128(b));

    /// <summary>Each byte's low nibble.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LowNibbles(TVec v) => And(v, Broadcast(0x0F));

    /// <summary>Each byte's high nibble (bytes have no shift of their own: shift 16-bit lanes, then mask).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec HighNibbles(TVec v) => And(ShiftRight(v, 4), Broadcast(0x0F));

    /// <summary>The 16-bit lanes shifted right by <paramref name="bits"/> (callers mask the bytes afterwards).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ShiftRight(TVec v, int bits) => typeof(TVec) == typeof(Vector256<byte>) ? As(Vector256.ShiftRightLogical(B256(v).AsUInt16(), bits).AsByte())
        : As(Vector128.ShiftRightLogical(B128(v).AsUInt16(), bits).AsByte());

    /// <summary>Bytes below 16 times 16 (a shift of the 16-bit lanes that carries nothing across bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Times16(TVec v) => typeof(TVec) == typeof(Vector256<byte>) ? As(Vector256.ShiftLeft(B256(v).AsUInt16(), 4).AsByte())
        : As(Vector128.ShiftLeft(B128(v).AsUInt16(), 4).AsByte());

    /// <summary>0x10 in each byte where all bits of <paramref name="mask"/> are set in <paramref name="v"/>, else 0: a fifth bit, placed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec FifthBit(TVec v, TVec mask) => typeof(TVec) == typeof(Vector256<byte>) ? As(Vector256.Equals(B256(v) & B256(mask), B256(mask)) & Vector256.Create((byte)0x10))
        : As(Vector128.Equals(B128(v) & B128(mask), B128(mask)) & Vector128.Create((byte)0x10));

    /// <summary>Two 16-byte halves as one vector (256-bit), or <paramref name="first"/> alone when <paramref name="part"/> is 0 and <paramref name="second"/> when 1 (128-bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Join(Vector128<byte> first, Vector128<byte> second, int part) => typeof(TVec) == typeof(Vector256<byte>)
        ? As(Vector256.Create(first, second))
        : As(part == 0 ? first : second);

    /// <summary>
    /// Two 32-byte halves as one 512-bit vector (the 512-bit kernels only): one insert into the register that holds the
    /// first — Vector512.Create(first, second) became two inserts into the destination's old value, a false dependency
    /// that chained one loop iteration to the next.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Join(Vector256<byte> first, Vector256<byte> second) => As(Avx512F.InsertVector256(first.ToVector512Unsafe(), second, 1));

    /// <summary>
    /// acc (32-bit lanes) += the products u·s (unsigned levels below 128 times signed bytes), summed in adjacent pairs and
    /// then times <paramref name="scaleLow"/> in the first half of the vector and <paramref name="scaleHigh"/> in the second
    /// (128-bit: <paramref name="scaleLow"/> throughout).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec DotScaled(TVec acc, TVec u, TVec s, short scaleLow, short scaleHigh)
    {
        if (typeof(TVec) == typeof(Vector256<byte>))
        {
            var pairs = Avx2.MultiplyAddAdjacent(B256(u), B256(s).AsSByte());
            var scale = Vector256.Create(Vector128.Create(scaleLow), Vector128.Create(scaleHigh));
            return As((B256(acc).AsInt32() + Avx2.MultiplyAddAdjacent(pairs, scale)).AsByte());
        }
        if (Ssse3.IsSupported)
        {
            var pairs = Ssse3.MultiplyAddAdjacent(B128(u), B128(s).AsSByte());
            return As((B128(acc).AsInt32() + Sse2.MultiplyAddAdjacent(pairs, Vector128.Create(scaleLow))).AsByte());
        }
        return As(AdvSimd.MultiplyAdd(B128(acc).AsInt32(), ArmDot(B128(u).AsSByte(), B128(s).AsSByte()), Vector128.Create((int)scaleLow)).AsByte());
    }

    /// <summary>acc (32-bit lanes) += the products of signed bytes a·b, summed in groups (Q8_0 weights).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec DotSigned(TVec acc, TVec a, TVec b)
    {
        if (Is512)
        {
            // AVX-512 has no vpsignb: b with a's sign by a select on a's sign bits.
            var magnitude = Avx512BW.Abs(B512(a).AsSByte());
            var signed = Vector512.ConditionalSelect(Vector512.LessThan(B512(a).AsSByte(), Vector512<sbyte>.Zero),
                Vector512<sbyte>.Zero - B512(b).AsSByte(), B512(b).AsSByte());
            var pairs = Avx512BW.MultiplyAddAdjacent(magnitude, signed);
            return As((B512(acc).AsInt32() + Avx512BW.MultiplyAddAdjacent(pairs, Vector512.Create((short)1))).AsByte());
        }
        if (typeof(TVec) == typeof(Vector256<byte>))
        {
            // |a| · (b with a's sign): unsigned by signed, as the x64 instructions want.
            var magnitude = Avx2.Abs(B256(a).AsSByte());
            var signed = Avx2.Sign(B256(b).AsSByte(), B256(a).AsSByte());
            if (AvxVnni.IsSupported) return As(AvxVnni.MultiplyWideningAndAdd(B256(acc).AsInt32(), magnitude, signed).AsByte());
            var pairs = Avx2.MultiplyAddAdjacent(magnitude, signed);
            return As((B256(acc).AsInt32() + Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1))).AsByte());
        }
        if (Ssse3.IsSupported)
        {
            var magnitude = Ssse3.Abs(B128(a).AsSByte());
            var signed = Ssse3.Sign(B128(b).AsSByte(), B128(a).AsSByte());
            if (AvxVnni.IsSupported) return As(AvxVnni.MultiplyWideningAndAdd(B128(acc).AsInt32(), magnitude, signed).AsByte());
            var pairs = Ssse3.MultiplyAddAdjacent(magnitude, signed);
            return As((B128(acc).AsInt32() + Sse2.MultiplyAddAdjacent(pairs, Vector128.Create((short)1))).AsByte());
        }
        return As((B128(acc).AsInt32() + ArmDot(B128(a).AsSByte(), B128(b).AsSByte())).AsByte());
    }

    /// <summary>Sums of four adjacent products of signed bytes: sdot where the CPU has it, widening multiplies where not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> ArmDot(Vector128<sbyte> a, Vector128<sbyte> b)
    {
        if (Dp.IsSupported) return Dp.DotProduct(Vector128<int>.Zero, a, b);
        var low = AdvSimd.MultiplyWideningLower(a.GetLower(), b.GetLower());
        var high = AdvSimd.MultiplyWideningUpper(a, b);
        return AdvSimd.Arm64.AddPairwise(AdvSimd.AddPairwiseWidening(low), AdvSimd.AddPairwiseWidening(high));
    }

    /// <summary>accFloats + float(ints) · scale, lane by lane (both vectors as float and int32 lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec MultiplyAdd(TVec accFloats, TVec ints, float scale) => typeof(TVec) == typeof(Vector256<byte>)
        ? As(Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(B256(ints).AsInt32()), Vector256.Create(scale), B256(accFloats).AsSingle()).AsByte())
        : As(Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(B128(ints).AsInt32()), Vector128.Create(scale), B128(accFloats).AsSingle()).AsByte());

    /// <summary>512-bit <see cref="MultiplyAdd(TVec, TVec, float)"/> with one scale per half (two 32-blocks in one vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec MultiplyAdd(TVec accFloats, TVec ints, float scaleLow, float scaleHigh) =>
        As(Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(B512(ints).AsInt32()),
            Avx512F.InsertVector256(Vector512.Create(scaleLow), Vector256.Create(scaleHigh), 1), B512(accFloats).AsSingle()).AsByte());

    /// <summary>The sum of the float lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumFloats(TVec v) => Is512 ? Vector512.Sum(B512(v).AsSingle())
        : typeof(TVec) == typeof(Vector256<byte>) ? Vector256.Sum(B256(v).AsSingle()) : Vector128.Sum(B128(v).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> B512(TVec v) => Unsafe.BitCast<TVec, Vector512<byte>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> B256(TVec v) => Unsafe.BitCast<TVec, Vector256<byte>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<byte> B128(TVec v) => Unsafe.BitCast<TVec, Vector128<byte>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector512<byte> v) => Unsafe.BitCast<Vector512<byte>, TVec>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector256<byte> v) => Unsafe.BitCast<Vector256<byte>, TVec>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector128<byte> v) => Unsafe.BitCast<Vector128<byte>, TVec>(v);
}
