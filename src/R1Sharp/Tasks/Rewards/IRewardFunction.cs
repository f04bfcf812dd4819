namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// One named component of the reward, scoring a completion in [0, 1] (1 is best). Combine several with
/// weights in a <see cref="CompositeReward"/>; the training loop sees only the weighted total.
/// </summary>
public interface IRewardFunction
{
    /// <summary>Key of this component in <see cref="RewardBreakdown.Scores"/> ("accuracy", "format", ...).</summary>
    string Name { get; }

    double Score(RewardContext context);
}
