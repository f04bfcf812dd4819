using static TorchSharp.torch;

namespace R1Sharp.Training;

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
