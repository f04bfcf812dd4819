namespace R1Sharp.Serving;

/// <summary>Token counts of a finished chat completion, summed over its choices (as OpenAI's usage).</summary>
public sealed record ChatUsage(int PromptTokens, int CompletionTokens, int ReasoningTokens)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}
