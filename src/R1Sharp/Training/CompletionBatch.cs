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
