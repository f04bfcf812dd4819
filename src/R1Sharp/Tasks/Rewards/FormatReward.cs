namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// 1 when the completion is "&lt;think&gt;reasoning&lt;/think&gt;answer" with exactly one think block, non-empty
/// reasoning and a non-empty answer (only "reasoning&lt;/think&gt;answer" when the template opened the block), else 0.
/// </summary>
public sealed class FormatReward : IRewardFunction
{
    public const string Key = "format";
    public string Name => Key;

    public double Score(RewardContext context) => context.Parts.WellFormed ? 1 : 0;
}
