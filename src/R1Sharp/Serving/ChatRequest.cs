using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>A chat completion to run. Null sampling fields take <see cref="Generation.SamplingOptions"/>'s defaults
/// (DeepSeek-R1's recommended temperature 0.6 and top-p 0.95).</summary>
public sealed record ChatRequest(IReadOnlyList<ChatMessage> Messages)
{
    /// <summary>0 is greedy.</summary>
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    /// <summary>Null: <see cref="ServingOptions.DefaultMaxTokens"/>, capped by the context the prompt leaves.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>Same seed, same completion; null draws one.</summary>
    public int? Seed { get; init; }
    /// <summary>Strings that end a choice; they are not part of its text.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Number of choices, each sampled separately from one shared prefill.</summary>
    public int N { get; init; } = 1;
    /// <summary>The served model to run: the base's name or a LoRA adapter's (<see cref="ServingOptions.Adapters"/>); null is the base.</summary>
    public string? Model { get; init; }
}
