namespace R1Sharp.Inference;

/// <summary>The vector width the CPU inference kernels run at, in bits; <see cref="None"/> means the libtorch path.</summary>
public enum SimdWidth
{
    None = 0,
    /// <summary>arm64 NEON, or x64 SSE with FMA.</summary>
    Bits128 = 128,
    /// <summary>x64 AVX2 with FMA.</summary>
    Bits256 = 256,
    /// <summary>x64 AVX-512.</summary>
    Bits512 = 512,
}
