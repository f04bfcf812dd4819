namespace R1Sharp.Training;

/// <summary>
/// Token-weighted sums from the policy loss of one or more micro-batches. Kept as sums (not means) so the
/// micro-batches of a step add up to exactly the step's means, whatever their sizes.
/// </summary>
public readonly record struct PolicyLossStats
{
    /// <summary>Active (masked-in) tokens.</summary>
    public double Tokens { get; init; }
    /// <summary>Sum of the aggregated losses (what was back-propagated).</summary>
    public double Loss { get; init; }
    public double LowClipped { get; init; }
    public double HighClipped { get; init; }
    public double RegionClipped { get; init; }
    public double KlSum { get; init; }
    public double EntropySum { get; init; }
    public bool HasKl { get; init; }
    public bool HasEntropy { get; init; }

    public static PolicyLossStats operator +(PolicyLossStats a, PolicyLossStats b) => new()
    {
        Tokens = a.Tokens + b.Tokens,
        Loss = a.Loss + b.Loss,
        LowClipped = a.LowClipped + b.LowClipped,
        HighClipped = a.HighClipped + b.HighClipped,
        RegionClipped = a.RegionClipped + b.RegionClipped,
        KlSum = a.KlSum + b.KlSum,
        EntropySum = a.EntropySum + b.EntropySum,
        HasKl = a.HasKl || b.HasKl,
        HasEntropy = a.HasEntropy || b.HasEntropy,
    };

    double PerToken(double sum) => sum / Math.Max(1.0, Tokens);

    /// <summary>Means per active token under TRL's metric names (kl and entropy only when they were measured).</summary>
    /// <param name="optimizerSteps">Optimizer steps these sums cover (num_iterations), so policy_loss is per step.</param>
    public Dictionary<string, double> ToMetrics(int optimizerSteps = 1)
    {
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.Loss] = Loss / Math.Max(1, optimizerSteps),
            [MetricNames.ClipRatioLow] = PerToken(LowClipped),
            [MetricNames.ClipRatioHigh] = PerToken(HighClipped),
            [MetricNames.ClipRatioRegion] = PerToken(RegionClipped),
        };
        if (HasKl) metrics[MetricNames.Kl] = PerToken(KlSum);
        if (HasEntropy) metrics[MetricNames.Entropy] = PerToken(EntropySum);
        return metrics;
    }
}
