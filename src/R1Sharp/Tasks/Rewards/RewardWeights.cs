namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// Weights of the standard reward components. R1-Zero used accuracy + format; R1 added language consistency.
/// A weight of 0 keeps the component in the breakdown (for logging) without affecting the total.
/// </summary>
public sealed record RewardWeights
{
    /// <summary>The final answer is right. Default 1.</summary>
    public double Accuracy { get; init; } = 1.0;

    /// <summary>Exactly one &lt;think&gt;…&lt;/think&gt; then a non-empty answer. Default 0.2: a nudge, never worth more than a right answer.</summary>
    public double Format { get; init; } = 0.2;

    /// <summary>Share of the reasoning in the prompt's language. Default 0.1 (R1 adds it to stop language mixing; it costs a little accuracy).</summary>
    public double LanguageConsistency { get; init; } = 0.1;

    /// <summary>Soft penalty for running into the token budget (DAPO's overlong shaping). Default 0 (off).</summary>
    public double Length { get; init; } = 0.0;
}
