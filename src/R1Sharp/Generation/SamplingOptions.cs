namespace R1Sharp.Generation;

/// <summary>How one request samples. Defaults follow DeepSeek-R1's recommendation for reasoning models.</summary>
public sealed record SamplingOptions
{
    /// <summary>
    /// Below this temperature a row samples greedily: 1/T would overflow float32 (or make logits/T overflow), and the
    /// distribution is one-hot to float precision anyway. vLLM uses the same threshold.
    /// </summary>
    public const double GreedyBelowTemperature = 1e-5;

    /// <summary>0 (or anything below <see cref="GreedyBelowTemperature"/>) means greedy (argmax); R1 recommends 0.6.</summary>
    public double Temperature { get; init; } = 0.6;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling: the smallest set of tokens whose probability reaches top_p; R1 recommends 0.95.</summary>
    public double TopP { get; init; } = 0.95;
    /// <summary>Drop tokens less likely than min_p × the most likely token's probability; 0 keeps all.</summary>
    public double MinP { get; init; }
    public int MaxNewTokens { get; init; } = 256;
    /// <summary>Same seed, same tokens (<see cref="Seeds"/>); null draws a fresh seed.</summary>
    public int? Seed { get; init; }
    /// <summary>Token ids that end a sample, besides the engine's end-of-turn ids. They are kept in the output.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Strings that end a sample once its decoded text contains one (needs a tokenizer; <see cref="TextStream"/>).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    public bool IsGreedy => Temperature < GreedyBelowTemperature;

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
public sealed record GenerationRequest(IReadOnlyList<int> PromptIds, SamplingOptions Options, int NumSamples = 1)
{
    /// <summary>The LoRA adapter to generate with (a server's request names one); null: the model's active adapter, if any.
    /// Requests for different adapters do not share decode steps (<see cref="DecodeLoop"/>).</summary>
    public Model.LoraAdapter? Adapter { get; init; }
}

public enum FinishReason { Stop, Length }

/// <summary>A finished sample: its new tokens, each token's log-probability (under the temperature-scaled
/// distribution, as an RL trainer recomputes it; at temperature 1 for greedy rows) and why it ended.</summary>
public sealed record GeneratedSample(int RequestIndex, int SampleIndex, int[] TokenIds, float[] LogProbs, FinishReason FinishReason, string? MatchedStopString = null);

/// <summary>A token just generated, for streaming.</summary>
public readonly record struct TokenEvent(int RequestIndex, int SampleIndex, int TokenId, float LogProb, bool IsLast);

/// <summary>
/// Every seed of generation, in one place, so a request gives the same tokens through `r1 generate`, `r1 eval`, GRPO
/// rollouts, <c>R1ChatClient</c> and the HTTP server, whatever else shares the batch: a request's seed is the one it
/// gives (or a fresh one); sample s of it draws one uniform number per token from its own generator seeded by
/// (request seed, s); a run (evaluation, GRPO) gives prompt i of its stream the request seed (run seed, i).
/// </summary>
public static class Seeds
{
    /// <summary>The request's own seed, or a fresh one.</summary>
    public static int Request(int? seed) => seed ?? Random.Shared.Next();

    /// <summary>The generator of sample <paramref name="sample"/> of a request seeded <paramref name="requestSeed"/>.</summary>
    public static Random Sample(int requestSeed, int sample) => new(unchecked(requestSeed * SampleStride + sample));

    const int SampleStride = 1_000_003;
    /// <summary>SampleStride⁻¹ modulo 2³² (the stride is odd, so it has one; Newton's iteration doubles the right bits each round).</summary>
    static readonly uint StrideInverse = Enumerable.Range(0, 5).Aggregate((uint)SampleStride, (x, _) => unchecked(x * (2 - SampleStride * x)));

    /// <summary>
    /// The seed of a one-sample request whose sample 0 draws what sample <paramref name="sample"/> of a request seeded
    /// <paramref name="requestSeed"/> draws: <c>Sample(ForOneSample(s, j), 0)</c> is <c>Sample(s, j)</c>. An endpoint
    /// asked for one completion per request (servers differ in whether they honour <c>n</c>, and only then does usage
    /// count each completion's tokens) thus samples as local evaluation does.
    /// </summary>
    public static int ForOneSample(int requestSeed, int sample) => unchecked((int)((uint)requestSeed + (uint)sample * StrideInverse));

    /// <summary>The request seed of evaluation prompt <paramref name="promptIndex"/> of an evaluation seeded <paramref name="runSeed"/>.</summary>
    public static int ForPrompt(int runSeed, long promptIndex) => unchecked((int)(runSeed * 1_000_003L + promptIndex));

    /// <summary>
    /// The request seed of GRPO's rollouts of prompt <paramref name="promptIndex"/> (counted from the start of the run) of a
    /// run seeded <paramref name="runSeed"/>, so a resumed run samples alike. Its own stream (multiplier 7919, not
    /// <see cref="ForPrompt"/>'s): a run's rollouts of its i-th prompt are not its evaluation's samples of the i-th
    /// held-out prompt, and runs made before the one engine sample as they did.
    /// </summary>
    public static int ForRollout(int runSeed, long promptIndex) => unchecked((int)(runSeed * 7919L + promptIndex));
}

/// <summary>
/// Where the decode loop reports a request's samples as they are generated. The calls come from the loop's thread,
/// between decoding steps that every request shares, so they must be quick, and must not throw.
/// </summary>
public interface ISampleSink
{
    /// <summary>Sample <paramref name="sample"/> produced a token (stop tokens included); <paramref name="last"/> when the
    /// loop already knows it ends here (a stop token, or max new tokens). True ends the sample here (a stop string appeared).</summary>
    bool OnToken(int sample, int tokenId, float logProb, bool last);

    /// <summary>The sample is done; no more tokens of it follow.</summary>
    void OnFinished(int sample, FinishReason reason);

    /// <summary>The request cannot go on (its logits are not finite, its cache could not be had, the loop failed or is
    /// shutting down); no calls follow. Other requests go on.</summary>
    void OnFailed(Exception error);
}

/// <summary>A prompt plus its completion would not fit in the model's context (HTTP 400 context_length_exceeded).</summary>
public sealed class ContextLengthError : R1Error
{
    public ContextLengthError(int contextLength, int promptTokens, int completionTokens)
        : this(contextLength, $"the model's maximum context length is {contextLength} tokens, but {promptTokens + completionTokens} were asked for " +
              $"({promptTokens} in the prompt, {completionTokens} in the completion); shorten the prompt or max_tokens") { }

    ContextLengthError(int contextLength, string message) : base(message) => ContextLength = contextLength;

    /// <summary>Messages with more text than the context could hold even at the tokenizer's longest tokens, found
    /// before tokenizing them.</summary>
    public static ContextLengthError TooMuchText(int contextLength, long textBytes, long maxTextBytes) =>
        new(contextLength, $"the model's maximum context length is {contextLength} tokens, and the messages hold {textBytes} bytes of text, " +
            $"more than {contextLength} tokens can (at most {maxTextBytes} bytes with this tokenizer); shorten the messages");

    public int ContextLength { get; }
}
