namespace R1Sharp.Tasks.Rewards;

/// <summary>Everything a reward function may look at for one completion.</summary>
/// <param name="TemplateOpenedThink">The chat template already wrote "&lt;think&gt;" before the completion began.</param>
/// <param name="CompletionTokens">Generated tokens, when the caller knows them (the length reward needs them).</param>
/// <param name="MaxTokens">The generation budget; reaching it means the completion was cut off.</param>
public sealed record RewardContext(
    IVerifiableTask Task,
    TaskExample Example,
    string Completion,
    bool TemplateOpenedThink = false,
    int? CompletionTokens = null,
    int? MaxTokens = null)
{
    CompletionParts? _parts;

    /// <summary>Reasoning and answer of the completion, parsed once and shared by the reward functions.</summary>
    public CompletionParts Parts => _parts ??= CompletionParts.Parse(Completion, TemplateOpenedThink);
}
