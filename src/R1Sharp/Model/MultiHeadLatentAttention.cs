using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// DeepSeek's Multi-head Latent Attention. Keys and values are up-projected from one compressed latent c_kv
/// (kv_lora_rank wide) plus one rotary key k_pe shared by all heads. Training materialises per-head K and V
/// ("naive"); cached inference keeps only c_kv and k_pe and folds the up-projections into the query and the
/// output ("absorbed"), so the cache costs kv_lora_rank + qk_rope_head_dim values per token and layer.
/// Projections are run with <c>call</c>, which runs their hooks: a LoRA adapter's update comes in that way (<see cref="LoraAdapter"/>).
/// </summary>
public sealed class MultiHeadLatentAttention : AttentionLayer
{
    readonly Projection? q_proj;
    readonly Projection? q_a_proj;
    readonly RmsNorm? q_a_layernorm;
    readonly Projection? q_b_proj;
    readonly Projection kv_a_proj_with_mqa;
    readonly RmsNorm kv_a_layernorm;
    readonly Projection kv_b_proj;
    readonly Projection o_proj;
    readonly int heads, nopeDim, ropeDim, vDim, rank;

    /// <summary>
    /// How the per-head up-projections are multiplied when a GGUF file stores attn_k_b/attn_v_b quantized (set by the
    /// loader; null: in float). llama.cpp multiplies those as it does every quantized matrix — by activations rounded
    /// to 8-bit blocks — and without that the logits move by a few percent. Such a model always runs the absorbed form,
    /// cached or not, since the rounded activations (q_nope, the attended latent) exist only there.
    /// </summary>
    internal (QuantizedUpProjection Key, QuantizedUpProjection Value)? Quantized { get; set; }

    public MultiHeadLatentAttention(ModelConfig config) : base(nameof(MultiHeadLatentAttention))
    {
        heads = config.NumAttentionHeads;
        nopeDim = config.QkNopeHeadDim;
        ropeDim = config.QkRopeHeadDim;
        vDim = config.VHeadDim;
        rank = config.KvLoraRank;
        int qHeadDim = nopeDim + ropeDim;
        if (config.QLoraRank is int qRank and > 0)
        {
            q_a_proj = new Projection(config.HiddenSize, qRank, hasBias: false);
            q_a_layernorm = new RmsNorm(qRank, config.RmsNormEps);
            q_b_proj = new Projection(qRank, heads * qHeadDim, hasBias: false);
        }
        else
        {
            q_proj = new Projection(config.HiddenSize, heads * qHeadDim, hasBias: false);
        }
        kv_a_proj_with_mqa = new Projection(config.HiddenSize, rank + ropeDim, hasBias: false);
        kv_a_layernorm = new RmsNorm(rank, config.RmsNormEps);
        kv_b_proj = new Projection(rank, heads * (nopeDim + vDim), hasBias: false);
        o_proj = new Projection(heads * vDim, config.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor x, AttentionContext context, int layerIndex)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = (q_proj is not null ? q_proj.call(x) : q_b_proj!.call(q_a_layernorm!.forward(q_a_proj!.call(x))))
            .view(b, t, heads, nopeDim + ropeDim);
        var qNope = q.narrow(-1, 0, nopeDim);
        var qPe = context.Rotary.Apply(q.narrow(-1, nopeDim, ropeDim), context.Rope);

        var kvA = kv_a_proj_with_mqa.call(x);
        var cKv = kv_a_layernorm.forward(kvA.narrow(-1, 0, rank));
        var kPe = context.Rotary.Apply(kvA.narrow(-1, rank, ropeDim).view(b, t, 1, ropeDim), context.Rope).view(b, t, ropeDim);

        // Softmax scale is 1/sqrt(nope + rope) times YaRN's correction; SDPA divides by sqrt(query width).
        double scale = context.Rotary.AttentionScaleFactor / Math.Sqrt(nopeDim + ropeDim);
        var o = context.Cache is null && Quantized is null
            ? Naive(qNope, qPe, cKv, kPe, context, scale)
            : Absorbed(qNope, qPe, cKv, kPe, context, layerIndex, scale);
        return o_proj.call(o.reshape(b, t, heads * vDim)).MoveToOuterDisposeScope();
    }

    Tensor Naive(Tensor qNope, Tensor qPe, Tensor cKv, Tensor kPe, AttentionContext context, double scale)
    {
        long b = qNope.shape[0], t = qNope.shape[1];
        var kv = kv_b_proj.call(cKv).view(b, t, heads, nopeDim + vDim);
        var k = cat([kv.narrow(-1, 0, nopeDim), kPe.unsqueeze(2).expand(b, t, heads, ropeDim)], -1).transpose(1, 2);
        var v = kv.narrow(-1, nopeDim, vDim).transpose(1, 2);
        var q = cat([qNope, qPe], -1).transpose(1, 2);
        return Attend(q, k, v, context, scale * Math.Sqrt(nopeDim + ropeDim)).transpose(1, 2);
    }

    Tensor Absorbed(Tensor qNope, Tensor qPe, Tensor cKv, Tensor kPe, AttentionContext context, int layerIndex, double scale)
    {
        long b = qNope.shape[0], t = qNope.shape[1];
        var (cKvAll, kPeAll) = context.Cache is null ? (cKv, kPe) : context.Cache.Append(layerIndex, cKv, kPe, context.PastLength);
        long s = cKvAll.shape[1];

        // The weight itself is read here, not the layer called, so an active LoRA adapter's B·A is added to it.
        var w = LoraAdapter.EffectiveWeight(kv_b_proj).view(heads, nopeDim + vDim, rank);
        var wUk = w.narrow(1, 0, nopeDim);         // [H, nope, rank]
        var wUv = w.narrow(1, nopeDim, vDim);      // [H, v, rank]
        var qLatent = Quantized?.Key.Apply(qNope, wUk, "bthd,hdc->bthc", "bthk,hck->bthc") ?? einsum("bthd,hdc->bthc", qNope, wUk);

        // All heads share one key and one value (the latent), so the H·T queries form a single head.
        var query = cat([qLatent, qPe], -1).transpose(1, 2).reshape(b, 1, heads * t, rank + ropeDim);
        var key = cat([cKvAll, kPeAll], -1).unsqueeze(1);
        var value = cKvAll.unsqueeze(1);
        var mask = context.Mask?.expand(b, heads, t, s).reshape(b, 1, heads * t, s)
                   ?? (t > 1 ? CausalMask(t, s, context.PastLength, qNope.device).repeat(heads, 1).view(1, 1, heads * t, s) : null);
        var latent = nn.functional.scaled_dot_product_attention(query * (scale * Math.Sqrt(rank + ropeDim)), key, value, mask)
            .view(b, heads, t, rank);
        return Quantized?.Value.Apply(latent, wUv, "bhtc,hdc->bthd", "bhtk,hdk->bthd") ?? einsum("bhtc,hdc->bthd", latent, wUv);
    }

    static Tensor CausalMask(long t, long s, int past, Device device) =>
        arange(s, device: device).unsqueeze(0) <= (arange(t, device: device) + past).unsqueeze(1);
}

/// <summary>
/// One of MLA's per-head up-projections (attn_k_b or attn_v_b) as llama.cpp multiplies it when stored quantized: the
/// input rounded to <c>Block</c>-value 8-bit blocks (0: float weights, input kept), and for Q5_1 weights
/// the blocks' mins [heads, rows, columns / 32], which multiply the rounded Q8_1 block sums
/// (<see cref="Quantization.GgmlQuants.Q8_1SumCorrection"/>).
/// </summary>
internal sealed record QuantizedUpProjection(int Block, Tensor? Mins)
{
    /// <summary>einsum(<paramref name="equation"/>, x, w) on the rounded x, plus the Q5_1 correction over blocks k (<paramref name="minEquation"/>).</summary>
    public Tensor Apply(Tensor x, Tensor w, string equation, string minEquation)
    {
        if (Block == 0) return einsum(equation, x, w);
        var product = einsum(equation, Quantization.GgmlQuants.RoundActivations(x, Block), w);
        return Mins is null ? product : product + einsum(minEquation, Quantization.GgmlQuants.Q8_1SumCorrection(x), Mins);
    }
}
