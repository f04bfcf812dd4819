using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace R1Sharp.Inference;

/// <summary>What the kernels need to know about the vector unit whatever the width.</summary>
static class Simd
{
    /// <summary>
    /// Vector registers the JIT can use (a JIT-time constant): 32 with AVX-512 (at any width) and on arm64, 16 on x64
    /// without AVX-512, where kernels hold fewer accumulators so their inner loops do not spill to the stack.
    /// </summary>
    public static int Registers
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Avx512F.IsSupported || AdvSimd.Arm64.IsSupported ? 32 : 16;
    }
}

/// <summary>
/// Float vector operations for kernels written once, generic over their vector type <typeparamref name="TVec"/>:
/// <see cref="Vector512{T}"/>, <see cref="Vector256{T}"/> or <see cref="Vector128{T}"/> of float. The JIT compiles a
/// kernel separately for each, folds the <c>typeof</c> tests below and inlines what is left, so the 512-bit kernel is
/// the code a hand-written AVX-512 one is. Kernels hold the raw vectors: a wrapper struct per width behind a
/// static-abstract interface (.NET's own ISimdVector is not public) measured a register move per FMA in the inner
/// loops, as the JIT does not coalesce the wrappers' temporaries with the accumulators.
/// </summary>
static unsafe class Simd<TVec> where TVec : struct
{
    /// <summary>Floats per vector (a JIT-time constant).</summary>
    public static int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(TVec) == typeof(Vector512<float>) ? Vector512<float>.Count
            : typeof(TVec) == typeof(Vector256<float>) ? Vector256<float>.Count
            : Vector128<float>.Count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Load(float* source)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(Vector512.Load(source));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(Vector256.Load(source));
        return As(Vector128.Load(source));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TVec value, float* destination)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) As512(value).Store(destination);
        else if (typeof(TVec) == typeof(Vector256<float>)) As256(value).Store(destination);
        else As128(value).Store(destination);
    }

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Broadcast(float value)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(Vector512.Create(value));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(Vector256.Create(value));
        return As(Vector128.Create(value));
    }

    /// <summary>a · b + addend, rounded once (<see cref="SimdKernels"/> only picks widths whose hardware has FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec MultiplyAdd(TVec a, TVec b, TVec addend)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(Vector512.FusedMultiplyAdd(As512(a), As512(b), As512(addend)));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(Vector256.FusedMultiplyAdd(As256(a), As256(b), As256(addend)));
        return As(Vector128.FusedMultiplyAdd(As128(a), As128(b), As128(addend)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Add(TVec a, TVec b)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(As512(a) + As512(b));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(As256(a) + As256(b));
        return As(As128(a) + As128(b));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Subtract(TVec a, TVec b)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(As512(a) - As512(b));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(As256(a) - As256(b));
        return As(As128(a) - As128(b));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Multiply(TVec a, TVec b)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return As(As512(a) * As512(b));
        if (typeof(TVec) == typeof(Vector256<float>)) return As(As256(a) * As256(b));
        return As(As128(a) * As128(b));
    }

    /// <summary>The sum of the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(TVec v)
    {
        if (typeof(TVec) == typeof(Vector512<float>)) return Vector512.Sum(As512(v));
        if (typeof(TVec) == typeof(Vector256<float>)) return Vector256.Sum(As256(v));
        return Vector128.Sum(As128(v));
    }

    /// <summary>The lane sums of four vectors as one 4-vector, [Σa, Σb, Σc, Σd]: halves added down to 128 bits, then pairwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sum4(TVec a, TVec b, TVec c, TVec d)
    {
        if (typeof(TVec) == typeof(Vector512<float>))
            return Sum4(Halves(Halves(As512(a))), Halves(Halves(As512(b))), Halves(Halves(As512(c))), Halves(Halves(As512(d))));
        if (typeof(TVec) == typeof(Vector256<float>))
            return Sum4(Halves(As256(a)), Halves(As256(b)), Halves(As256(c)), Halves(As256(d)));
        return Sum4(As128(a), As128(b), As128(c), As128(d));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d) =>
        PairwiseSums(PairwiseSums(a, b), PairwiseSums(c, d));

    /// <summary>[a0 + a1, a2 + a3, b0 + b1, b2 + b3]: one haddps on x64, one faddp on arm64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> PairwiseSums(Vector128<float> a, Vector128<float> b)
    {
        if (Sse3.IsSupported) return Sse3.HorizontalAdd(a, b);
        if (AdvSimd.Arm64.IsSupported) return AdvSimd.Arm64.AddPairwise(a, b);
        return Vector128.Create(a[0] + a[1], a[2] + a[3], b[0] + b[1], b[2] + b[3]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Halves(Vector512<float> v) => v.GetLower() + v.GetUpper();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Halves(Vector256<float> v) => v.GetLower() + v.GetUpper();

    // Reinterpretations between TVec and the vector type it is (the JIT emits nothing for them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> As512(TVec v) => Unsafe.BitCast<TVec, Vector512<float>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> As256(TVec v) => Unsafe.BitCast<TVec, Vector256<float>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> As128(TVec v) => Unsafe.BitCast<TVec, Vector128<float>>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector512<float> v) => Unsafe.BitCast<Vector512<float>, TVec>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector256<float> v) => Unsafe.BitCast<Vector256<float>, TVec>(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVec As(Vector128<float> v) => Unsafe.BitCast<Vector128<float>, TVec>(v);
}
