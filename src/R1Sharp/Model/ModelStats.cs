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

/// <summary>
/// Model FLOPs, from the config alone. A token costs 2 FLOPs per multiply-add of every weight matrix it goes through —
/// N, the active parameters in matmuls: the embedding lookup is not one, a tied lm_head is, a MoE token runs its router,
/// its top-k routed experts and the shared ones — plus attention's, which grows with the context. Training is forward +
/// backward, 3 × the forward, over whole sequences as PaLM counts it (every position against all T: 6N + 12·L·H·d·T per
/// token for d = d_qk = d_v). Generation feeds tokens through the KV cache one position at a time, each against the c
/// positions it attends to (itself included), with MLA's absorbed widths; it computes logits only where they are read.
/// </summary>
/// <param name="MatmulParameters">N: weights a token multiplies by, lm_head included.</param>
/// <param name="LogitParameters">The lm_head's share of N (vocab × hidden).</param>
/// <param name="AttentionWidth">H·(d_qk + d_v): multiply-adds per layer of one query against one key and value, no cache
/// (MLA up-projects per-head keys and values: d_qk = qk_nope + qk_rope, d_v = v_head_dim).</param>
/// <param name="CachedAttentionWidth">The same against the KV cache (absorbed MLA attends in the latent: d_k = kv_lora_rank
/// + qk_rope, d_v = kv_lora_rank).</param>
public sealed record ModelFlops(long MatmulParameters, long LogitParameters, int Layers, long AttentionWidth, long CachedAttentionWidth)
{
    /// <summary>The formulas, as the cost card states them.</summary>
    public const string Formula =
        "training (forward + backward) 6·N + 6·L·H·(d_qk + d_v)·T FLOPs per token of a T-token sequence (PaLM's 12·L·H·d·T); " +
        "forward-only passes a third of that; generation and prefill 2·N + 2·L·H·(d_k + d_v)·c per token attending to c cached " +
        "positions, the lm_head's 2·vocab·hidden only where logits are read; N = active parameters in matmuls";

    /// <summary>Forward of one sequence of <paramref name="length"/> tokens without a cache (logits at every position).</summary>
    public double Forward(long length) => 2.0 * length * (MatmulParameters + (double)Layers * AttentionWidth * length);

    /// <summary>Forward + backward of one sequence of <paramref name="length"/> tokens: 3 × <see cref="Forward"/>.</summary>
    public double Training(long length) => 3 * Forward(length);

    /// <summary><paramref name="tokens"/> fed through the KV cache attending to <paramref name="contextSum"/> positions in
    /// all, with logits computed for <paramref name="logitRows"/> of them.</summary>
    public double Cached(long tokens, long contextSum, long logitRows) =>
        2.0 * ((double)(MatmulParameters - LogitParameters) * tokens + (double)LogitParameters * logitRows + (double)Layers * CachedAttentionWidth * contextSum);

    public static ModelFlops Of(ModelConfig c)
    {
        var stats = ModelStats.Of(c); // checks the sizes: past it, nothing here overflows
        // Matrices only (norm weights, biases and routing-bias buffers are not multiplied by); the embedding is a lookup
        // unless it doubles as the lm_head. Idle routed experts are all matrices.
        long matrices = ModelStats.ExpectedShapes(c)
            .Where(kv => kv.Value.Length == 2 && (kv.Key != "model.embed_tokens.weight" || c.TieWordEmbeddings))
            .Sum(kv => ModelStats.Elements(kv.Value));
        long idle = stats.TotalParameters - stats.ActiveParametersPerToken;
        long heads = c.NumAttentionHeads;
        long width = c.IsMla ? heads * (c.QkNopeHeadDim + c.QkRopeHeadDim + c.VHeadDim) : heads * 2L * c.GqaHeadDim;
        long cached = c.IsMla ? heads * (2L * c.KvLoraRank + c.QkRopeHeadDim) : width;
        return new ModelFlops(matrices - idle, (long)c.VocabSize * c.HiddenSize, c.NumHiddenLayers, width, cached);
    }
}
