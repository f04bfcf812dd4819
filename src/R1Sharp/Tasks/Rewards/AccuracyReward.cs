namespace R1Sharp.Tasks.Rewards;

/// <summary>1 when the task's grader accepts the completion's final answer, else 0.</summary>
public sealed class AccuracyReward : IRewardFunction
{
    public const string Key = "accuracy";
    public string Name => Key;

    public double Score(RewardContext context) =>
        context.Task.IsCorrect(context.Completion, context.Example.Answer, context.TemplateOpenedThink) ? 1 : 0;
}
