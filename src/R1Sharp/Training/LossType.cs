namespace R1Sharp.Training;

/// <summary>
/// How per-token policy losses are summed into one number (TRL's <c>loss_type</c>). Serialised snake_case:
/// grpo, bnpo, dr_grpo, dapo.
/// </summary>
public enum LossType
{
    /// <summary>Mean over each completion's tokens, then mean over completions (DeepSeekMath). Length-biased.</summary>
    Grpo,
    /// <summary>Sum over the tokens of the micro-batch divided by its number of active tokens.</summary>
    Bnpo,
    /// <summary>Sum over tokens divided by a constant, batch size × max_completion_length (Dr. GRPO).</summary>
    DrGrpo,
    /// <summary>Sum over tokens divided by the active tokens of the whole accumulated batch (DAPO; TRL's default).</summary>
    Dapo,
}
