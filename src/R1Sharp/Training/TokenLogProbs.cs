using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Per-token log-probabilities and entropies from a model's logits. Logits are divided by the rollout temperature
/// first (as TRL does), so the ratio compares the same distribution the tokens were sampled from.
/// </summary>
public static class TokenLogProbs
{
    /// <param name="logits">[B, T, V] logits predicting each of <paramref name="tokens"/>.</param>
    /// <param name="tokens">[B, T] token ids (int64).</param>
    /// <returns>[B, T] log p(token).</returns>
    public static Tensor Gather(Tensor logits, Tensor tokens, double temperature = 1.0)
    {
        using var scope = NewDisposeScope();
        var logProbs = (logits / temperature).log_softmax(-1);
        return logProbs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>[B, T] entropy −Σ p log p of each position's distribution (nats).</summary>
    public static Tensor Entropy(Tensor logits, double temperature = 1.0)
    {
        using var scope = NewDisposeScope();
        var logProbs = (logits / temperature).log_softmax(-1);
        return (-(logProbs.exp() * logProbs).sum(-1)).MoveToOuterDisposeScope();
    }
}
