namespace R1Sharp.Model;

/// <summary>
/// What `r1 inspect` reports about a model's size and cost per token, computed from the config alone so that
/// a 671B config can be inspected, and a checkpoint's weights checked, without allocating the model.
/// </summary>
public sealed record ModelStats(long TotalParameters, long ActiveParametersPerToken, long KvCacheValuesPerTokenPerLayer, int Layers)
{
    /// <summary>KV-cache bytes one token costs across all layers at <paramref name="bytesPerValue"/> (2 for bf16).</summary>
    public long KvCacheBytesPerToken(int bytesPerValue = 2) => checked(KvCacheValuesPerTokenPerLayer * Layers * bytesPerValue);

    /// <summary>The MoE router's correction bias: a buffer in checkpoints, not a trained parameter.</summary>
    public const string RoutingBiasSuffix = ".e_score_correction_bias";

    public static ModelStats Of(ModelConfig c)
    {
        try
        {
            checked
            {
                long total = ExpectedShapes(c).Where(kv => !kv.Key.EndsWith(RoutingBiasSuffix)).Sum(kv => Elements(kv.Value));
                // A token runs only its top-k routed experts of each MoE layer.
                long expert = 3L * c.HiddenSize * c.MoeIntermediateSize;
                long idle = Enumerable.Range(0, c.NumHiddenLayers).Where(c.IsMoeLayer).Sum(_ => (c.NRoutedExperts - c.NumExpertsPerTok) * expert);
                // Absorbed MLA caches the latent and the shared rotary key only; GQA caches K and V of each KV head.
                long kvPerLayer = c.IsMla ? c.KvLoraRank + c.QkRopeHeadDim : 2L * c.NumKeyValueHeads * c.GqaHeadDim;
                return new ModelStats(total, total - idle, kvPerLayer, c.NumHiddenLayers);
            }
        }
        catch (OverflowException)
        {
            throw new R1Error("the model's parameter count overflows a 64-bit integer; check the config's sizes");
        }
    }

    /// <summary>Elements of a tensor of this shape (checked: shapes may come from untrusted files).</summary>
    public static long Elements(IEnumerable<long> shape) => shape.Aggregate(1L, (product, dim) => checked(product * dim));

    /// <summary>
    /// HF name → shape of every tensor a checkpoint of <paramref name="c"/> holds: the model's parameters and the
    /// MoE routing-bias buffers. Computed from the config alone; <see cref="CausalLanguageModel"/> builds exactly
    /// these modules (a test holds its <c>ExpectedShapes()</c> equal to this for every family and variant).
    /// </summary>
    public static Dictionary<string, long[]> ExpectedShapes(ModelConfig c)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        long hidden = c.HiddenSize;
        void Linear(string name, long input, long output, bool bias = false)
        {
            shapes[name + ".weight"] = [output, input];
            if (bias) shapes[name + ".bias"] = [output];
        }
        void Mlp(string name, long width)
        {
            Linear(name + ".gate_proj", hidden, width);
            Linear(name + ".up_proj", hidden, width);
            Linear(name + ".down_proj", width, hidden);
        }

        shapes["model.embed_tokens.weight"] = [c.VocabSize, hidden];
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string layer = $"model.layers.{i}";
            shapes[$"{layer}.input_layernorm.weight"] = [hidden];
            shapes[$"{layer}.post_attention_layernorm.weight"] = [hidden];
            if (c.IsMla)
            {
                long qHead = c.QkNopeHeadDim + c.QkRopeHeadDim;
                if (c.QLoraRank is int qRank and > 0)
                {
                    Linear($"{layer}.self_attn.q_a_proj", hidden, qRank);
                    shapes[$"{layer}.self_attn.q_a_layernorm.weight"] = [qRank];
                    Linear($"{layer}.self_attn.q_b_proj", qRank, c.NumAttentionHeads * qHead);
                }
                else
                {
                    Linear($"{layer}.self_attn.q_proj", hidden, c.NumAttentionHeads * qHead);
                }
                Linear($"{layer}.self_attn.kv_a_proj_with_mqa", hidden, c.KvLoraRank + c.QkRopeHeadDim);
                shapes[$"{layer}.self_attn.kv_a_layernorm.weight"] = [c.KvLoraRank];
                Linear($"{layer}.self_attn.kv_b_proj", c.KvLoraRank, (long)c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim));
                Linear($"{layer}.self_attn.o_proj", (long)c.NumAttentionHeads * c.VHeadDim, hidden);
            }
            else
            {
                long q = (long)c.NumAttentionHeads * c.GqaHeadDim, kv = (long)c.NumKeyValueHeads * c.GqaHeadDim;
                Linear($"{layer}.self_attn.q_proj", hidden, q, c.HasQkvBias);
                Linear($"{layer}.self_attn.k_proj", hidden, kv, c.HasQkvBias);
                Linear($"{layer}.self_attn.v_proj", hidden, kv, c.HasQkvBias);
                Linear($"{layer}.self_attn.o_proj", q, hidden, c.HasOutputBias);
                if (c.HasQkNorm)
                {
                    shapes[$"{layer}.self_attn.q_norm.weight"] = [c.GqaHeadDim];
                    shapes[$"{layer}.self_attn.k_norm.weight"] = [c.GqaHeadDim];
                }
            }
            if (c.IsMoeLayer(i))
            {
                shapes[$"{layer}.mlp.gate.weight"] = [c.NRoutedExperts, hidden];
                shapes[$"{layer}.mlp.gate{RoutingBiasSuffix}"] = [c.NRoutedExperts];
                for (int e = 0; e < c.NRoutedExperts; e++) Mlp($"{layer}.mlp.experts.{e}", c.MoeIntermediateSize);
                if (c.NSharedExperts > 0) Mlp($"{layer}.mlp.shared_experts", (long)c.MoeIntermediateSize * c.NSharedExperts);
            }
            else
            {
                Mlp($"{layer}.mlp", c.IntermediateSize);
            }
        }
        shapes["model.norm.weight"] = [hidden];
        if (!c.TieWordEmbeddings) shapes["lm_head.weight"] = [c.VocabSize, hidden];
        return shapes;
    }
}
