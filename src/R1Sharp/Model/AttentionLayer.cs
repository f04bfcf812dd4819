using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>The attention sub-layer of a decoder block: GQA for Llama/Qwen2, MLA for DeepSeek-V3.</summary>
public abstract class AttentionLayer(string name) : nn.Module(name)
{
    /// <summary>x [B, T, hidden] → [B, T, hidden]; appends this layer's keys to <c>context.Cache</c> when given.</summary>
    public abstract Tensor Forward(Tensor x, AttentionContext context, int layerIndex);

    /// <summary>Scaled dot-product attention over [B, H, T, d] tensors with an optional extra scale on the logits.</summary>
    protected static Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionContext context, double scaleCorrection = 1.0)
    {
        if (scaleCorrection != 1.0) q = q * scaleCorrection;
        bool causal = context.IsCausal && q.shape[2] > 1;
        return nn.functional.scaled_dot_product_attention(q, k, v, context.Mask, 0.0, causal);
    }
}
