namespace R1Sharp.Tasks.Rewards;

public static class TaskScoring
{
    /// <summary>Scores a completion of <paramref name="example"/> with the standard reward under <paramref name="weights"/>.</summary>
    public static RewardBreakdown Score(this IVerifiableTask task, TaskExample example, string completion,
        RewardWeights? weights = null, bool templateOpenedThink = false) =>
        CompositeReward.Standard(weights).Score(new RewardContext(task, example, completion, templateOpenedThink));
}
