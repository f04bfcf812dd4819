using System.Runtime.CompilerServices;

// Tests seed torch's global generator before building models; classes running in parallel would draw from it in
// between and make seeded runs differ.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace R1Sharp.Tests;

static class TestSetup
{
    // Tests may touch TorchSharp before any R1Sharp type; fix the native shim first.
    [ModuleInitializer]
    internal static void Init() => R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
}
