using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>What every attention layer of one forward pass shares: masks, rotary angles and the cache.</summary>
public sealed class AttentionContext
{
    /// <summary>Boolean [B, 1, T, S], true where a query may attend a key; null when <see cref="IsCausal"/> or T = 1 suffices.</summary>
    public Tensor? Mask { get; init; }
    /// <summary>Plain causal attention over exactly the T new keys (no cache, no padding).</summary>
    public bool IsCausal { get; init; }
    public required (Tensor Cos, Tensor Sin) Rope { get; init; }
    public required RotaryEmbedding Rotary { get; init; }
    public KvCache? Cache { get; init; }
    /// <summary>Positions already in the cache before this pass; the new keys go at [PastLength, PastLength + T).</summary>
    public int PastLength { get; init; }
}
