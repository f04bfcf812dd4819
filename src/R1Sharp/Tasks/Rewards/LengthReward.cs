namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// DAPO's soft overlong shaping: 1 up to (1 − <paramref name="softBuffer"/>) of the token budget, falling linearly
/// to 0 at the budget, 0 for a completion cut off there. 1 when the context doesn't say the token counts.
/// </summary>
/// <param name="softBuffer">Share of the budget over which the score falls. Default 0.2.</param>
public sealed class LengthReward(double softBuffer = 0.2) : IRewardFunction
{
    public const string Key = "length";
    public string Name => Key;

    public double Score(RewardContext context)
    {
        if (context.CompletionTokens is not { } tokens || context.MaxTokens is not { } max || max <= 0) return 1;
        if (tokens >= max) return 0;
        double bufferTokens = softBuffer * max;
        double start = max - bufferTokens;
        return tokens <= start ? 1 : (max - tokens) / bufferTokens;
    }
}
