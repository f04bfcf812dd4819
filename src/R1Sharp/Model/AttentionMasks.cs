using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>Boolean attention masks (true = may attend) for padded batches and cached decoding.</summary>
public static class AttentionMasks
{
    /// <summary>
    /// [B, 1, T, S] for T queries at positions past..past+T-1 over S = past+T keys: causal, no padding keys.
    /// A query always sees itself, so padding rows never produce an all-masked (NaN) softmax.
    /// </summary>
    public static Tensor Build(Tensor keyValid, int past, int queries)
    {
        using var scope = NewDisposeScope();
        long s = keyValid.shape[1];
        var device = keyValid.device;
        var queryPositions = (arange(queries, device: device) + past).unsqueeze(1);   // [T, 1]
        var keyPositions = arange(s, device: device).unsqueeze(0);                     // [1, S]
        var causal = keyPositions <= queryPositions;                                   // [T, S]
        var self = keyPositions == queryPositions;
        var mask = (causal.unsqueeze(0) & keyValid.unsqueeze(1)) | self.unsqueeze(0);  // [B, T, S]
        return mask.unsqueeze(1).MoveToOuterDisposeScope();
    }
}
