using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// Grouped-query attention with rotary embeddings (Llama, Qwen2): H query heads share H_kv key/value heads,
/// which shrinks the KV cache by H / H_kv.
/// </summary>
public sealed class GroupedQueryAttention : AttentionLayer
{
    readonly Projection q_proj;
    readonly Projection k_proj;
    readonly Projection v_proj;
    readonly Projection o_proj;
    readonly int heads, kvHeads, headDim;

    public GroupedQueryAttention(ModelConfig config) : base(nameof(GroupedQueryAttention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.GqaHeadDim;
        q_proj = new Projection(config.HiddenSize, heads * headDim, hasBias: config.HasQkvBias);
        k_proj = new Projection(config.HiddenSize, kvHeads * headDim, hasBias: config.HasQkvBias);
        v_proj = new Projection(config.HiddenSize, kvHeads * headDim, hasBias: config.HasQkvBias);
        o_proj = new Projection(heads * headDim, config.HiddenSize, hasBias: config.HasOutputBias);
        RegisterComponents();
    }

    internal (Projection Q, Projection K, Projection V, Projection O) Projections => (q_proj, k_proj, v_proj, o_proj);

    public override Tensor Forward(Tensor x, AttentionContext context, int layerIndex)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = context.Rotary.Apply(q_proj.forward(x).view(b, t, heads, headDim), context.Rope).transpose(1, 2);
        var k = context.Rotary.Apply(k_proj.forward(x).view(b, t, kvHeads, headDim), context.Rope).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (context.Cache is { } cache) (k, v) = cache.Append(layerIndex, k, v, context.PastLength);
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, 1);
            v = v.repeat_interleave(heads / kvHeads, 1);
        }
        var o = Attend(q, k, v, context).transpose(1, 2).reshape(b, t, heads * headDim);
        return o_proj.forward(o).MoveToOuterDisposeScope();
    }
}
