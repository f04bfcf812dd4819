using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>Per-token log-probabilities (and entropies) of completions under a model, as policy-gradient losses need.</summary>
public static class TokenLogProbs
{
    /// <summary>
    /// Log π(token) for each completion token, [B, C], from logits divided by <paramref name="temperature"/>
    /// (the distribution the rollouts were sampled from). With <paramref name="withEntropy"/>, also the
    /// entropy of each position's distribution. Padding positions hold garbage; multiply by the mask.
    /// </summary>
    public static (Tensor LogProbs, Tensor? Entropy) Compute(CausalLanguageModel model, CompletionBatch batch,
        double temperature = 1.0, bool withEntropy = false)
    {
        using var scope = NewDisposeScope();
        var logits = model.Forward(batch.InputIds, batch.AttentionMask);
        // The logits at column t predict token t + 1, so completion tokens are predicted from P - 1 .. P + C - 2.
        var predicting = logits.narrow(1, batch.PromptLength - 1, batch.CompletionLength);
        if (temperature != 1.0) predicting = predicting / temperature;
        var logSoftmax = predicting.log_softmax(-1);
        var chosen = logSoftmax.gather(2, batch.CompletionIds.unsqueeze(2)).squeeze(2);
        Tensor? entropy = null;
        if (withEntropy)
            using (no_grad())
                entropy = -(logSoftmax.exp() * logSoftmax).sum(-1);
        return (chosen.MoveToOuterDisposeScope(), entropy?.MoveToOuterDisposeScope());
    }
}
