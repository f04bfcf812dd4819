namespace R1Sharp.Training;

/// <summary>Per-step metrics of a rollout batch, under TRL's names (see <see cref="MetricNames"/>).</summary>
public static class RolloutStats
{
    /// <summary>completions/mean_length, min, max, clipped_ratio (truncated share), mean_terminated_length.</summary>
    public static Dictionary<string, double> Completions(IReadOnlyList<int> lengths, IReadOnlyList<bool> truncated)
    {
        if (lengths.Count == 0 || lengths.Count != truncated.Count)
            throw new R1Error($"completion stats: {lengths.Count} lengths and {truncated.Count} truncation flags");
        var terminated = lengths.Where((_, i) => !truncated[i]).ToArray();
        return new Dictionary<string, double>
        {
            [MetricNames.MeanLength] = lengths.Average(),
            [MetricNames.MinLength] = lengths.Min(),
            [MetricNames.MaxLength] = lengths.Max(),
            [MetricNames.TruncatedRatio] = truncated.Count(t => t) / (double)truncated.Count,
            [MetricNames.MeanTerminatedLength] = terminated.Length > 0 ? terminated.Average() : 0,
        };
    }

    /// <summary>
    /// reward and reward_std of the weighted sums, rewards/&lt;name&gt;/mean and /std of each function,
    /// frac_reward_zero_std over the groups. Standard deviations are unbiased, as TRL's.
    /// </summary>
    public static Dictionary<string, double> Rewards(IReadOnlyList<double> total,
        IReadOnlyDictionary<string, IReadOnlyList<double>> perFunction, int numGenerations)
    {
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.Reward] = total.Average(),
            [MetricNames.RewardStd] = UnbiasedStd(total),
            [MetricNames.FracRewardZeroStd] = DynamicSampling.ZeroVarianceGroups(total, numGenerations).Average(z => z ? 1.0 : 0.0),
        };
        foreach (var (name, values) in perFunction)
        {
            metrics[MetricNames.RewardMean(name)] = values.Average();
            metrics[MetricNames.RewardStdOf(name)] = UnbiasedStd(values);
        }
        return metrics;
    }

    public static double UnbiasedStd(IReadOnlyList<double> values)
    {
        if (values.Count < 2)
            return 0;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }
}
