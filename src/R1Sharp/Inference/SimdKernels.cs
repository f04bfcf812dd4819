using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace R1Sharp.Inference;

/// <summary>
/// Which vector width the CPU inference kernels run at: the widest this machine accelerates with FMA, unless the
/// environment variable <see cref="EnvironmentVariable"/> (512, 256, 128, or 0 for the libtorch path) or a test or
/// benchmark (<see cref="Force"/>) asks for another. The kernels need FMA: without it .NET emulates
/// FusedMultiplyAdd in software, and libtorch is faster.
/// </summary>
public static class SimdKernels
{
    public const string EnvironmentVariable = "R1SHARP_SIMD_WIDTH";

    static readonly Lazy<SimdWidth> Configured = new(() => Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable)));
    static volatile int forced = -1;

    /// <summary>The widest width this machine runs the kernels at (<see cref="SimdWidth.None"/>: none).</summary>
    public static SimdWidth Widest { get; } =
        IsSupported(SimdWidth.Bits512) ? SimdWidth.Bits512
        : IsSupported(SimdWidth.Bits256) ? SimdWidth.Bits256
        : IsSupported(SimdWidth.Bits128) ? SimdWidth.Bits128
        : SimdWidth.None;

    /// <summary>The width the kernels run at now; <see cref="SimdWidth.None"/> sends every cached forward to libtorch.</summary>
    public static SimdWidth Active => forced >= 0 ? (SimdWidth)forced : Configured.Value;

    /// <summary>Whether the kernels can run at <paramref name="width"/> here (accelerated vectors of that width, and FMA).</summary>
    public static bool IsSupported(SimdWidth width) => width switch
    {
        SimdWidth.None => true,
        SimdWidth.Bits512 => Vector512.IsHardwareAccelerated, // AVX-512F includes FMA
        SimdWidth.Bits256 => Vector256.IsHardwareAccelerated && Fma.IsSupported,
        SimdWidth.Bits128 => Vector128.IsHardwareAccelerated && (AdvSimd.IsSupported || Fma.IsSupported),
        _ => false,
    };

    /// <summary>A name for logs and benchmark reports, e.g. "256-bit (AVX2)".</summary>
    public static string Describe(SimdWidth width) => width switch
    {
        SimdWidth.None => "none (libtorch path)",
        SimdWidth.Bits512 => "512-bit (AVX-512)",
        SimdWidth.Bits256 => "256-bit (AVX2)",
        SimdWidth.Bits128 => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "128-bit (NEON)" : "128-bit (SSE)",
        _ => $"{(int)width}-bit",
    };

    /// <summary>Parses "512", "256", "128" or "0".</summary>
    public static SimdWidth Parse(string text) => text.Trim() switch
    {
        "512" => SimdWidth.Bits512,
        "256" => SimdWidth.Bits256,
        "128" => SimdWidth.Bits128,
        "0" => SimdWidth.None,
        _ => throw new R1Error($"a SIMD width is 512, 256, 128 or 0 (no kernels), got '{text}'"),
    };

    /// <summary>
    /// Runs the kernels at <paramref name="width"/> until the returned scope is disposed, which restores the previous
    /// setting (so a test or benchmark cannot leak its choice). Not for concurrent use: the setting is process-wide.
    /// </summary>
    internal static Scope Force(SimdWidth width)
    {
        if (!IsSupported(width))
            throw new R1Error($"this CPU cannot run the inference kernels at {Describe(width)}; the widest it can is {Describe(Widest)}");
        var scope = new Scope(forced);
        forced = (int)width;
        return scope;
    }

    /// <summary>Throws unless the kernels can run at <paramref name="width"/> (a job called with an unsupported width would emulate FMA in software).</summary>
    internal static void Check(SimdWidth width)
    {
        if (width == SimdWidth.None || !IsSupported(width))
            throw new InvalidOperationException($"the CPU kernels cannot run at {Describe(width)} on this machine");
    }

    internal readonly struct Scope(int previous) : IDisposable
    {
        public void Dispose() => forced = previous;
    }

    /// <summary>The width for a value of <see cref="EnvironmentVariable"/>: unset or empty means the widest.</summary>
    internal static SimdWidth Resolve(string? setting)
    {
        if (string.IsNullOrWhiteSpace(setting)) return Widest;
        var width = Parse(setting);
        if (!IsSupported(width))
            throw new R1Error($"{EnvironmentVariable}={setting}: this CPU cannot run the inference kernels at {Describe(width)}; the widest it can is {Describe(Widest)}");
        return width;
    }
}
