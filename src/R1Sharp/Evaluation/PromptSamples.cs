namespace R1Sharp.Evaluation;

/// <summary>One generation for a prompt: its text, its length in tokens, and whether it stopped at the token limit.</summary>
public sealed record EvalSample(string Completion, int TokenCount, bool HitLimit);

/// <summary>
/// What evaluation needs for one prompt: its id, the gold answer, k sampled completions, and optionally the
/// greedy (temperature 0) completion.
/// </summary>
public sealed record PromptSamples(string PromptId, string Gold, IReadOnlyList<EvalSample> Samples, EvalSample? Greedy = null);
