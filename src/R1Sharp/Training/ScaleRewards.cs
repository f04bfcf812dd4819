namespace R1Sharp.Training;

/// <summary>What the group-centred reward is divided by to make the advantage (TRL's <c>scale_rewards</c>).</summary>
public enum ScaleRewards
{
    /// <summary>The standard deviation of the rewards of the same prompt's group (GRPO).</summary>
    Group,
    /// <summary>The standard deviation over the whole batch (Lite PPO).</summary>
    Batch,
    /// <summary>No scaling, A = r − group mean (Dr. GRPO).</summary>
    None,
}
