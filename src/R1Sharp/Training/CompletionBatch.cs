using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Prompt + completion pairs laid out for one training forward, as TRL does: prompts left-padded to a common
/// length P, completions right-padded to C, so completion token j of every row sits at column P + j.
/// </summary>
public sealed class CompletionBatch : IDisposable
{
    /// <summary>[B, P + C] token ids (padding = <c>padId</c>).</summary>
    public Tensor InputIds { get; }
    /// <summary>[B, P + C], 1 for real tokens.</summary>
    public Tensor AttentionMask { get; }
    /// <summary>[B, C], 1 for real completion tokens.</summary>
    public Tensor CompletionMask { get; }
    public int PromptLength { get; }
    public int CompletionLength { get; }

    public CompletionBatch(IReadOnlyList<(IReadOnlyList<int> Prompt, IReadOnlyList<int> Completion)> rows, int padId, Device device)
    {
        if (rows.Count == 0) throw new ArgumentException("a batch needs at least one row");
        PromptLength = rows.Max(r => r.Prompt.Count);
        CompletionLength = Math.Max(1, rows.Max(r => r.Completion.Count));
        int width = PromptLength + CompletionLength;
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        var completionMask = new float[rows.Count * CompletionLength];
        Array.Fill(ids, padId);
        for (int b = 0; b < rows.Count; b++)
        {
            var (prompt, completion) = rows[b];
            int start = b * width + PromptLength - prompt.Count;
            for (int j = 0; j < prompt.Count; j++) { ids[start + j] = prompt[j]; mask[start + j] = 1; }
            for (int j = 0; j < completion.Count; j++)
            {
                ids[b * width + PromptLength + j] = completion[j];
                mask[b * width + PromptLength + j] = 1;
                completionMask[b * CompletionLength + j] = 1;
            }
        }
        InputIds = tensor(ids, device: device).view(rows.Count, width);
        AttentionMask = tensor(mask, device: device).view(rows.Count, width);
        CompletionMask = tensor(completionMask, device: device).view(rows.Count, CompletionLength);
    }

    public int Rows => (int)InputIds.shape[0];

    /// <summary>Completion token ids [B, C].</summary>
    public Tensor CompletionIds => InputIds.narrow(1, PromptLength, CompletionLength);

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        CompletionMask.Dispose();
    }
}

/// <summary>Which token slots of a right-padded completion batch count in the loss.</summary>
public static class CompletionMask
{
    /// <param name="lengths">Tokens generated per completion, the end-of-sequence token included.</param>
    /// <param name="width">T, the padded width of the batch.</param>
    /// <param name="truncated">Per completion, whether it stopped at max_completion_length without ending.</param>
    /// <param name="maskTruncated">mask_truncated_completions: give truncated completions an all-zero row, so a
    /// cut-off answer is neither rewarded nor punished for text it had no room to finish (DAPO).</param>
    /// <returns>[B, T] float32 of 1 and 0.</returns>
    public static Tensor Build(IReadOnlyList<int> lengths, int width, IReadOnlyList<bool>? truncated = null,
        bool maskTruncated = false)
    {
        if (truncated is not null && truncated.Count != lengths.Count)
            throw new R1Error($"completion mask: {lengths.Count} lengths but {truncated.Count} truncation flags");
        var mask = new float[lengths.Count * width];
        for (int b = 0; b < lengths.Count; b++)
        {
            if (lengths[b] < 0 || lengths[b] > width)
                throw new R1Error($"completion mask: completion {b} has length {lengths[b]}, outside 0..{width}");
            if (maskTruncated && truncated is not null && truncated[b])
                continue;
            Array.Fill(mask, 1f, b * width, lengths[b]);
        }
        return tensor(mask).view(lengths.Count, width);
    }
}

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
        // fp32 from here on, whatever precision the products ran in: log-probs feed ratios exp(new − old).
        var predicting = logits.narrow(1, batch.PromptLength - 1, batch.CompletionLength).to(float32);
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
