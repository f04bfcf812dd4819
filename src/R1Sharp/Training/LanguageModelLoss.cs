using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>Next-token cross-entropy, ignoring positions whose target is <see cref="IgnoreIndex"/>.</summary>
public static class LanguageModelLoss
{
    /// <summary>Targets with this value (prompt tokens in SFT, padding) add nothing to the loss.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>logits [B, T, V], targets [B, T] (already shifted: target t is the token after input t).</summary>
    public static Tensor Compute(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), ignore_index: IgnoreIndex);
}
