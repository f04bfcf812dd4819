using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>Raw access to a CPU tensor's memory, so C# kernels read weights and write caches in place without copies.</summary>
static unsafe partial class TensorMemory
{
    // TorchSharp keeps its own data pointer accessor internal; this is the same native entry point.
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The address of element 0 of a float32 CPU tensor (its storage offset included).</summary>
    public static float* Floats(Tensor t)
    {
        if (t.dtype != ScalarType.Float32) throw new ArgumentException($"expected a float32 tensor, got {t.dtype}");
        return (float*)CheckedAddress(t);
    }

    public static long* Longs(Tensor t)
    {
        if (t.dtype != ScalarType.Int64) throw new ArgumentException($"expected an int64 tensor, got {t.dtype}");
        return (long*)CheckedAddress(t);
    }

    public static byte* Bytes(Tensor t)
    {
        if (t.ElementSize != 1) throw new ArgumentException($"expected a one-byte tensor, got {t.dtype}");
        return (byte*)CheckedAddress(t);
    }

    /// <summary>Element 0's address, unchecked: for telling whether a tensor still lives where it did.</summary>
    public static IntPtr Address(Tensor t) => THSTensor_data(t.Handle);

    static void* CheckedAddress(Tensor t)
    {
        if (t.device_type != DeviceType.CPU) throw new ArgumentException("expected a CPU tensor");
        var p = THSTensor_data(t.Handle);
        if (p == IntPtr.Zero && t.NumberOfElements > 0) throw new InvalidOperationException("libtorch returned no data pointer");
        return (void*)p;
    }
}
