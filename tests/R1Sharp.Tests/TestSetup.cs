using System.Runtime.CompilerServices;

// Test classes run one at a time. Models are initialised from torch's global generator (the model code's parameter
// init takes no generator), checkpoints save and restore that generator, and commands set process-wide state (torch's
// thread count, which changes float reduction order, and the SIMD width): classes running in parallel would change
// each other's seeded numbers. Parallel classes would not be faster either: a test's torch work already uses every core.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace R1Sharp.Tests;

static class TestSetup
{
    // Tests may touch TorchSharp before any R1Sharp type; fix the native shim first.
    [ModuleInitializer]
    internal static void Init()
    {
        R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
        // auto precision's per-machine memory goes to a folder of the test run's own, not the user's ~/.cache.
        Environment.SetEnvironmentVariable("R1_CACHE_DIR", Directory.CreateTempSubdirectory("r1-test-cache-").FullName);
    }
}
