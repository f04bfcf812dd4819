namespace R1Sharp.Generation;

/// <summary>How one request samples. Defaults follow DeepSeek-R1's recommendation for reasoning models.</summary>
public sealed record SamplingOptions
{
    /// <summary>0 means greedy (argmax); R1 recommends 0.6.</summary>
    public double Temperature { get; init; } = 0.6;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling: the smallest set of tokens whose probability reaches top_p; R1 recommends 0.95.</summary>
    public double TopP { get; init; } = 0.95;
    /// <summary>Drop tokens less likely than min_p × the most likely token's probability; 0 keeps all.</summary>
    public double MinP { get; init; }
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>Same seed, same tokens; null draws a fresh seed.</summary>
    public int? Seed { get; init; }
    /// <summary>Token ids that end a sample (the tokenizer's EOS is added by the engine). They are kept in the output.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Strings that end a sample once its decoded text contains one (needs a tokenizer).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    public SamplingOptions Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new R1Error($"temperature must be >= 0, got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new R1Error($"top_p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw new R1Error($"min_p must be in [0, 1], got {MinP}");
        if (TopK < 0) throw new R1Error($"top_k must be >= 0, got {TopK}");
        if (MaxNewTokens < 1) throw new R1Error($"max new tokens must be >= 1, got {MaxNewTokens}");
        return this;
    }
}

/// <summary>One prompt to continue <see cref="NumSamples"/> times; all samples share one prefill of the prompt.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptIds, SamplingOptions Options, int NumSamples = 1);

public enum FinishReason { Stop, Length }

/// <summary>A finished sample: its new tokens, each token's log-probability (under the temperature-scaled
/// distribution, as an RL trainer recomputes it) and why it ended.</summary>
public sealed record GeneratedSample(int RequestIndex, int SampleIndex, int[] TokenIds, float[] LogProbs, FinishReason FinishReason, string? MatchedStopString = null);

/// <summary>A token just generated, for streaming.</summary>
public readonly record struct TokenEvent(int RequestIndex, int SampleIndex, int TokenId, float LogProb, bool IsLast);
