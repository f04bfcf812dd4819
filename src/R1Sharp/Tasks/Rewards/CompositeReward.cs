namespace R1Sharp.Tasks.Rewards;

/// <summary>A reward component and its weight in the total.</summary>
public sealed record WeightedReward(IRewardFunction Function, double Weight);

/// <summary>
/// The reward of a completion: a list of named, weighted components, scored one by one, summed by weight.
/// Add your own by appending a <see cref="WeightedReward"/> (see docs/tasks.md).
/// </summary>
public sealed class CompositeReward
{
    public IReadOnlyList<WeightedReward> Parts { get; }

    public CompositeReward(IReadOnlyList<WeightedReward> parts)
    {
        var duplicate = parts.GroupBy(p => p.Function.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new R1Error($"reward component '{duplicate.Key}' appears more than once");
        Parts = parts;
    }

    /// <summary>Accuracy, format, language consistency and length, weighted by <paramref name="weights"/> (defaults if null).</summary>
    public static CompositeReward Standard(RewardWeights? weights = null)
    {
        weights ??= new RewardWeights();
        return new CompositeReward(
        [
            new(new AccuracyReward(), weights.Accuracy),
            new(new FormatReward(), weights.Format),
            new(new LanguageConsistencyReward(), weights.LanguageConsistency),
            new(new LengthReward(), weights.Length),
        ]);
    }

    /// <summary>This reward with the weights replaced in order (TRL's reward_weights list).</summary>
    public CompositeReward Reweighted(IReadOnlyList<double> weights)
    {
        if (weights.Count != Parts.Count)
            throw new R1Error($"reward_weights has {weights.Count} entries but there are {Parts.Count} reward functions ({string.Join(", ", Parts.Select(p => p.Function.Name))})");
        return new(Parts.Zip(weights, (part, weight) => part with { Weight = weight }).ToList());
    }

    /// <summary>This reward with one more component.</summary>
    public CompositeReward With(IRewardFunction function, double weight) => new([.. Parts, new WeightedReward(function, weight)]);

    public RewardBreakdown Score(RewardContext context)
    {
        var scores = new Dictionary<string, double>();
        double total = 0;
        foreach (var (function, weight) in Parts)
        {
            double score = function.Score(context);
            scores[function.Name] = score;
            total += weight * score;
        }
        return new RewardBreakdown(scores, total);
    }
}
