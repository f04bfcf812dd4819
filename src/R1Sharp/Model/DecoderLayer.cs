using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>Pre-norm residual block: h += Attn(norm(h)); h += MLP(norm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
    readonly RmsNorm input_layernorm;
    readonly AttentionLayer self_attn;
    readonly RmsNorm post_attention_layernorm;
    readonly nn.Module<Tensor, Tensor> mlp;
    readonly int index;

    public DecoderLayer(ModelConfig config, int index) : base(nameof(DecoderLayer))
    {
        this.index = index;
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = config.IsMla ? new MultiHeadLatentAttention(config) : new GroupedQueryAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = config.IsMoeLayer(index)
            ? new DeepSeekMoe(config)
            : new SwiGluMlp(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    internal RmsNorm InputNorm => input_layernorm;
    internal AttentionLayer Attention => self_attn;
    internal RmsNorm PostAttentionNorm => post_attention_layernorm;
    internal nn.Module<Tensor, Tensor> Mlp => mlp;

    /// <summary>The MoE block of this layer, or null for a dense layer.</summary>
    public DeepSeekMoe? Moe => mlp as DeepSeekMoe;

    public Tensor Forward(Tensor h, AttentionContext context)
    {
        using var scope = NewDisposeScope();
        h = h + self_attn.Forward(input_layernorm.forward(h), context, index);
        h = h + mlp.forward(post_attention_layernorm.forward(h));
        return h.MoveToOuterDisposeScope();
    }
}
