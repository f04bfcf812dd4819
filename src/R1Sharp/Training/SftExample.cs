using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>One supervised example: the rendered prompt and the assistant's response, as token ids.</summary>
public sealed record SftExample(int[] Prompt, int[] Response)
{
    /// <summary>
    /// Right-padded rows where only response tokens are targets (loss on assistant tokens only).
    /// Rows longer than <paramref name="maxLength"/> are cut from the end.
    /// </summary>
    public static TrainingBatch Collate(IReadOnlyList<SftExample> examples, int maxLength, int padId, Device device)
    {
        int width = Math.Min(maxLength, examples.Max(e => e.Prompt.Length + e.Response.Length) - 1);
        var inputs = new long[examples.Count * width];
        var targets = new long[examples.Count * width];
        var mask = new long[examples.Count * width];
        Array.Fill(inputs, padId);
        Array.Fill(targets, LanguageModelLoss.IgnoreIndex);
        for (int b = 0; b < examples.Count; b++)
        {
            var e = examples[b];
            var tokens = e.Prompt.Concat(e.Response).ToArray();
            int n = Math.Min(width, tokens.Length - 1);
            for (int t = 0; t < n; t++)
            {
                inputs[b * width + t] = tokens[t];
                mask[b * width + t] = 1;
                if (t + 1 >= e.Prompt.Length) targets[b * width + t] = tokens[t + 1];
            }
        }
        return new TrainingBatch(tensor(inputs, device: device).view(examples.Count, width),
            tensor(targets, device: device).view(examples.Count, width), tensor(mask, device: device).view(examples.Count, width));
    }
}
