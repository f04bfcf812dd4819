using System.Diagnostics;
using static TorchSharp.torch;

namespace R1Sharp.Benchmarks;

/// <summary>
/// The machine's matrix-multiply throughput in one precision (fp32 or bf16), measured with the same library and thread
/// count as the workload, so model FLOPs utilisation is a ratio of two numbers from the same run.
/// </summary>
public static class MatmulPeak
{
    public static double MeasureGflops(ScalarType dtype = ScalarType.Float32, int size = 1024, double seconds = 2.0)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var a = randn(size, size).to(dtype);
        var b = randn(size, size).to(dtype);
        for (int i = 0; i < 3; i++) a.mm(b).Dispose();
        var clock = Stopwatch.StartNew();
        int runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            a.mm(b).Dispose();
            runs++;
        }
        return 2.0 * size * size * size * runs / clock.Elapsed.TotalSeconds / 1e9;
    }
}
