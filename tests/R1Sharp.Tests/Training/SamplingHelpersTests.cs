using R1Sharp.Training;

namespace R1Sharp.Tests.Training;

public class SamplingHelpersTests
{
    static readonly IEqualityComparer<double> Close = GroupAdvantagesTests.Close(1e-5);

    [Fact]
    public void DynamicSamplingFindsGroupsWithAllEqualRewards()
    {
        double[] rewards = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0.5, 0.5, 0.5];
        Assert.Equal([true, false, true, true], DynamicSampling.ZeroVarianceGroups(rewards, 3));
        Assert.Equal([1], DynamicSampling.InformativeGroups(rewards, 3));
    }

    [Fact]
    public void CompletionMaskCoversGeneratedTokensAndDropsTruncatedOnesWhenAsked()
    {
        int[] lengths = [3, 1, 4];
        bool[] truncated = [false, false, true];
        using var kept = CompletionMask.Build(lengths, 4, truncated, maskTruncated: false);
        using var masked = CompletionMask.Build(lengths, 4, truncated, maskTruncated: true);
        Assert.Equal([1f, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1], kept.data<float>().ToArray());
        Assert.Equal([1f, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], masked.data<float>().ToArray());
    }

    [Fact]
    public void CompletionStatsUseTrlNames()
    {
        var m = RolloutStats.Completions([3, 5, 10, 2], [false, false, true, false]);
        Assert.Equal(5, m[MetricNames.MeanLength]);
        Assert.Equal(2, m[MetricNames.MinLength]);
        Assert.Equal(10, m[MetricNames.MaxLength]);
        Assert.Equal(0.25, m[MetricNames.TruncatedRatio]);
        Assert.Equal(10.0 / 3, m[MetricNames.MeanTerminatedLength], Close);
    }

    [Fact]
    public void RewardStatsGiveMeanUnbiasedStdAndZeroStdShare()
    {
        var m = RolloutStats.Rewards([1, 0, 1, 1], new Dictionary<string, IReadOnlyList<double>>
        {
            ["accuracy"] = [1, 0, 1, 1],
        }, numGenerations: 2);
        Assert.Equal(0.75, m[MetricNames.Reward]);
        Assert.Equal(0.5, m[MetricNames.RewardStd], Close); // variance 0.75/3
        Assert.Equal(0.5, m[MetricNames.FracRewardZeroStd]);
        Assert.Equal(0.75, m["rewards/accuracy/mean"]);
    }
}
