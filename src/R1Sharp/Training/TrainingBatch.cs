using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>Inputs [B, T] and shifted targets [B, T] (IgnoreIndex where no loss); a mask when rows are padded.</summary>
public sealed record TrainingBatch(Tensor Inputs, Tensor Targets, Tensor? AttentionMask) : IDisposable
{
    /// <summary>Tokens that carry loss.</summary>
    public long LossTokens => (Targets != LanguageModelLoss.IgnoreIndex).sum().item<long>();

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        AttentionMask?.Dispose();
    }
}
