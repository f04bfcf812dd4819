using R1Sharp.Inference;

namespace R1Sharp.Tests.Inference;

/// <summary>How the kernels' vector width is chosen, forced and restored.</summary>
public class SimdKernelsTests
{
    [Fact]
    public void The_widest_width_is_supported_and_every_narrower_x64_or_arm64_width_too()
    {
        Assert.True(SimdKernels.IsSupported(SimdKernels.Widest));
        Assert.True(SimdKernels.IsSupported(SimdWidth.None));
        // An FMA machine accelerates 128-bit vectors whatever its widest width.
        if (SimdKernels.Widest != SimdWidth.None) Assert.True(SimdKernels.IsSupported(SimdWidth.Bits128));
        if (SimdKernels.Widest == SimdWidth.Bits512) Assert.True(SimdKernels.IsSupported(SimdWidth.Bits256));
    }

    [Fact]
    public void The_environment_setting_parses_widths_and_zero_and_rejects_anything_else()
    {
        Assert.Equal(SimdKernels.Widest, SimdKernels.Resolve(null));
        Assert.Equal(SimdKernels.Widest, SimdKernels.Resolve(""));
        Assert.Equal(SimdWidth.None, SimdKernels.Resolve("0"));
        foreach (var width in SimdWidths.All.Where(SimdKernels.IsSupported))
            Assert.Equal(width, SimdKernels.Resolve($" {(int)width} "));
        Assert.Throws<R1Error>(() => SimdKernels.Resolve("64"));
        Assert.Throws<R1Error>(() => SimdKernels.Resolve("avx2"));
    }

    [Fact]
    public void Forcing_a_width_lasts_until_its_scope_ends_and_nests()
    {
        var before = SimdKernels.Active;
        using (SimdKernels.Force(SimdWidth.None))
        {
            Assert.Equal(SimdWidth.None, SimdKernels.Active);
            if (SimdKernels.Widest != SimdWidth.None)
            {
                using (SimdKernels.Force(SimdWidth.Bits128)) Assert.Equal(SimdWidth.Bits128, SimdKernels.Active);
                Assert.Equal(SimdWidth.None, SimdKernels.Active);
            }
        }
        Assert.Equal(before, SimdKernels.Active);
    }

    [Fact]
    public void Jobs_refuse_to_run_without_a_width()
    {
        Assert.Throws<InvalidOperationException>(() => SimdKernels.Check(SimdWidth.None));
    }
}
