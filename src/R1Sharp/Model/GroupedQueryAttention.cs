using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// Grouped-query attention with rotary embeddings (Llama, Qwen2, Qwen3): H query heads share H_kv key/value heads,
/// which shrinks the KV cache by H / H_kv. Qwen3 normalises each query and key head (RMSNorm over head_dim) before
/// rotating it. Projections are run with <c>call</c>, which runs their hooks: a LoRA adapter's update comes in that way
/// (<see cref="LoraAdapter"/>).
/// </summary>
public sealed class GroupedQueryAttention : AttentionLayer
{
    readonly Projection q_proj;
    readonly Projection k_proj;
    readonly Projection v_proj;
    readonly Projection o_proj;
    readonly RmsNorm? q_norm;
    readonly RmsNorm? k_norm;
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
        if (config.HasQkNorm)
        {
            q_norm = new RmsNorm(headDim, config.RmsNormEps);
            k_norm = new RmsNorm(headDim, config.RmsNormEps);
        }
        RegisterComponents();
    }

    internal (Projection Q, Projection K, Projection V, Projection O) Projections => (q_proj, k_proj, v_proj, o_proj);

    /// <summary>Qwen3's per-head query and key norm weights [head_dim]; null for Llama and Qwen2.</summary>
    internal (Tensor? Q, Tensor? K) QkNormWeights => (q_norm?.Weight, k_norm?.Weight);

    public override Tensor Forward(Tensor x, AttentionContext context, int layerIndex)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.call(x).view(b, t, heads, headDim);
        var k = k_proj.call(x).view(b, t, kvHeads, headDim);
        if (q_norm is not null && k_norm is not null)
        {
            q = q_norm.forward(q);
            k = k_norm.forward(k);
        }
        q = context.Rotary.Apply(q, context.Rope).transpose(1, 2);
        k = context.Rotary.Apply(k, context.Rope).transpose(1, 2);
        var v = v_proj.call(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (context.Cache is { } cache) (k, v) = cache.Append(layerIndex, k, v, context.PastLength);
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, 1);
            v = v.repeat_interleave(heads / kvHeads, 1);
        }
        var o = Attend(q, k, v, context).transpose(1, 2).reshape(b, t, heads * headDim);
        return o_proj.call(o).MoveToOuterDisposeScope();
    }
}
