using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Evaluation;

/// <summary>`r1 perplexity`'s result, saved as JSON.</summary>
public sealed record PerplexityReport(
    [property: JsonPropertyName("perplexity")] double Perplexity,
    [property: JsonPropertyName("tokens_scored")] int TokensScored,
    [property: JsonPropertyName("ctx")] int Ctx,
    [property: JsonPropertyName("windows")] int Windows,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("model")] string? Model = null,
    [property: JsonPropertyName("data")] string? Data = null)
{
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// Perplexity of a text as llama.cpp's llama-perplexity scores it, so a quantization's cost reads the same in both:
/// the text is tokenized once (BOS first when the tokenizer adds one), cut into non-overlapping windows of
/// <c>ctx</c> tokens (a partial last window is dropped), each window starts from an empty cache with its first token
/// replaced by BOS (when the tokenizer adds one), and only each window's second half is scored — token j + 1 from the
/// logits at j for j in [ctx/2, ctx − 1) — so every scored token has at least ctx/2 tokens of context. The result is
/// exp(mean negative log-likelihood) over all scored tokens.
/// </summary>
public static class Perplexity
{
    /// <summary>Scored positions are run this many at a time, so the logits held are [Slice, vocab] rather than [ctx, vocab].</summary>
    const int Slice = 64;

    public static PerplexityReport Compute(CausalLanguageModel model, ITextTokenizer tokenizer, string text, int ctx, bool addBos,
        Action<int, double>? progress = null)
    {
        var ids = new List<int>();
        int? bos = tokenizer.BosId;
        if (addBos && bos is int b) ids.Add(b);
        ids.AddRange(tokenizer.Encode(text));
        return Compute(model, ids, ctx, addBos ? bos : null, progress);
    }

    /// <summary>
    /// Perplexity of <paramref name="ids"/> (already tokenized); <paramref name="bos"/>, when given, replaces each
    /// window's first token. llama.cpp asks for at least two windows.
    /// </summary>
    public static PerplexityReport Compute(CausalLanguageModel model, IReadOnlyList<int> ids, int ctx, int? bos, Action<int, double>? progress = null)
    {
        if (ctx < 4 || ctx % 2 != 0) throw new R1Error($"--ctx must be an even number of at least 4 tokens, got {ctx}");
        if (ctx > model.Config.MaxPositionEmbeddings) throw new R1Error($"--ctx {ctx} is longer than the model's context of {model.Config.MaxPositionEmbeddings}");
        if (ids.Count < 2 * ctx)
            throw new R1Error($"the text has {ids.Count} tokens; perplexity over windows of {ctx} needs at least {2 * ctx} (as llama-perplexity)");
        int windows = ids.Count / ctx, first = ctx / 2;
        var runner = ForwardRunner.For(model);
        double nll = 0;
        int scored = 0;
        using var _ = no_grad();
        for (int w = 0; w < windows; w++)
        {
            var window = ids.Skip(w * ctx).Take(ctx).ToArray();
            if (bos is int token) window[0] = token;
            using var cache = KvCache.Create(model.Config, 1, ctx, CPU);
            // The first half only fills the cache; the second half's logits are scored a slice at a time.
            using (var head = Run(runner, cache, window, 0, first, allPositions: false)) { }
            for (int start = first; start < ctx - 1; start += Slice)
            {
                int count = Math.Min(Slice, ctx - 1 - start);
                using var logits = Run(runner, cache, window, start, count, allPositions: true);
                using var logProbs = logits[0].log_softmax(-1);
                var targets = window.AsSpan(start + 1, count).ToArray();
                using var picked = logProbs.gather(1, tensor(targets.Select(t => (long)t).ToArray()).view(-1, 1));
                nll -= picked.sum().item<float>();
                scored += count;
            }
            progress?.Invoke(w + 1, Math.Exp(nll / scored));
        }
        return new PerplexityReport(Math.Exp(nll / scored), scored, ctx, windows, ids.Count);
    }

    static Tensor Run(ForwardRunner runner, KvCache cache, int[] window, int start, int count, bool allPositions)
    {
        using var ids = tensor(window.AsSpan(start, count).ToArray().Select(t => (long)t).ToArray()).view(1, -1);
        using var positions = arange(start, start + count, dtype: int64).view(1, -1);
        return runner.Forward(ids, positions, null, cache, allPositions);
    }
}
