using R1Sharp.Inference;

namespace R1Sharp.Tests.Inference;

/// <summary>The widths kernel tests run at; each test is reported skipped at the ones this machine cannot run (an AVX-512 machine runs all three).</summary>
static class SimdWidths
{
    /// <summary>Ends a [SkippableTheory] case as skipped (not passed) when this CPU cannot run <paramref name="width"/>.</summary>
    public static void SkipUnlessSupported(SimdWidth width) =>
        Skip.IfNot(SimdKernels.IsSupported(width), $"this CPU cannot run the {SimdKernels.Describe(width)} kernels");

    public static readonly SimdWidth[] All = [SimdWidth.Bits512, SimdWidth.Bits256, SimdWidth.Bits128];

    public static IEnumerable<object[]> Each() => All.Select(w => new object[] { w });

    /// <summary>Every row of <paramref name="rows"/> at every width (the width last).</summary>
    public static IEnumerable<object[]> Times(IEnumerable<object[]> rows) => rows.SelectMany(r => All.Select(w => r.Append(w).ToArray()));
}
