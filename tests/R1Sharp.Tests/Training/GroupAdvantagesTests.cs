using R1Sharp.Training;

namespace R1Sharp.Tests.Training;

public class GroupAdvantagesTests
{
    // Group 1: rewards 1,0,0,1 → mean 0.5, unbiased std sqrt(1/3); group 2 all 1 → no signal.
    static readonly double[] Rewards = [1, 0, 0, 1, 1, 1, 1, 1];

    [Fact]
    public void GroupScalingDividesByTheGroupsUnbiasedStd()
    {
        var a = GroupAdvantages.Compute(Rewards, numGenerations: 4, ScaleRewards.Group);
        var expected = 0.5 / (Math.Sqrt(1.0 / 3) + 1e-4); // 0.86588
        Assert.Equal([expected, -expected, -expected, expected, 0, 0, 0, 0], a.Select(x => (double)x), Close(1e-5));
    }

    [Fact]
    public void BatchScalingDividesByTheStdOfTheWholeBatch()
    {
        var a = GroupAdvantages.Compute(Rewards, numGenerations: 4, ScaleRewards.Batch);
        // batch mean 0.75; squared deviations 6×0.0625 + 2×0.5625 = 1.5; unbiased variance 1.5/7.
        var expected = 0.5 / (Math.Sqrt(1.5 / 7) + 1e-4); // 1.07990
        Assert.Equal([expected, -expected, -expected, expected, 0, 0, 0, 0], a.Select(x => (double)x), Close(1e-5));
    }

    [Fact]
    public void NoScalingOnlyCentresOnTheGroupMean()
    {
        var a = GroupAdvantages.Compute([3, 1, 2, 2, 0, 4], numGenerations: 3, ScaleRewards.None);
        Assert.Equal([1, -1, 0, 0, -2, 2], a.Select(x => (double)x), Close(1e-6));
    }

    [Fact]
    public void RewardsThatDoNotFillWholeGroupsAreRejected()
    {
        var e = Assert.Throws<R1Error>(() => GroupAdvantages.Compute([1, 0, 1], numGenerations: 2, ScaleRewards.Group));
        Assert.Contains("num_generations = 2", e.Message);
    }

    internal static IEqualityComparer<double> Close(double tolerance) =>
        EqualityComparer<double>.Create((x, y) => Math.Abs(x - y) <= tolerance, _ => 0);
}
