using R1Sharp.Inference;

namespace R1Sharp.Tests.Inference;

/// <summary>The widths kernel tests run at; each test skips the ones this machine cannot run (an AVX-512 machine runs all three).</summary>
static class SimdWidths
{
    public static readonly SimdWidth[] All = [SimdWidth.Bits512, SimdWidth.Bits256, SimdWidth.Bits128];

    public static IEnumerable<object[]> Each() => All.Select(w => new object[] { w });

    /// <summary>Every row of <paramref name="rows"/> at every width (the width last).</summary>
    public static IEnumerable<object[]> Times(IEnumerable<object[]> rows) => rows.SelectMany(r => All.Select(w => r.Append(w).ToArray()));
}
