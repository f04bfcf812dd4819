using System.Runtime.CompilerServices;

namespace R1Sharp.Tests;

static class TestSetup
{
    // Tests may touch TorchSharp before any R1Sharp type; fix the native shim first.
    [ModuleInitializer]
    internal static void Init() => R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
}
