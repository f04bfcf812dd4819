namespace R1Sharp.Model;

/// <summary>
/// Named shapes for `r1 init`. "tiny" builds in milliseconds for tests; "small" (10-30M parameters with the byte-level
/// tokenizer) is the size a laptop CPU trains in minutes.
/// </summary>
public static class ModelPresets
{
    public static readonly string[] Names = ["tiny", "small"];

    public static ModelConfig Create(ModelFamily family, string preset, int vocabSize) => (preset, family) switch
    {
        ("tiny", ModelFamily.DeepseekV3) => DeepSeek(vocabSize, hidden: 64, layers: 2, heads: 4, qRank: 32, kvRank: 16, nope: 16, rope: 8, v: 16,
            dense: 128, expert: 32, routed: 8, shared: 1, topK: 2, groups: 4, topGroups: 2),
        // Qwen3's heads are wider than hidden / heads (Qwen3-0.6B: 16 × 128 over a width of 1024); so are these.
        ("tiny", ModelFamily.Qwen3) => Gqa(family, vocabSize, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128) with { HeadDim = 32 },
        ("tiny", _) => Gqa(family, vocabSize, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128),
        // 21.9M parameters: 16 narrow experts (128 wide) keep routing meaningful at this size.
        ("small", ModelFamily.DeepseekV3) => DeepSeek(vocabSize, hidden: 384, layers: 8, heads: 6, qRank: 192, kvRank: 64, nope: 48, rope: 16, v: 64,
            dense: 1024, expert: 128, routed: 16, shared: 1, topK: 2, groups: 4, topGroups: 2),
        ("small", ModelFamily.Qwen3) => Gqa(family, vocabSize, hidden: 384, layers: 8, heads: 8, kvHeads: 2, ffn: 1024) with { HeadDim = 64 },
        ("small", _) => Gqa(family, vocabSize, hidden: 384, layers: 8, heads: 6, kvHeads: 2, ffn: 1024),
        _ => throw new R1Error($"unknown preset '{preset}' (expected {string.Join(", ", Names)})"),
    };

    static ModelConfig Gqa(ModelFamily family, int vocab, int hidden, int layers, int heads, int kvHeads, int ffn) => new()
    {
        Family = family, VocabSize = vocab, HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads, IntermediateSize = ffn, MaxPositionEmbeddings = 2048,
        RopeTheta = family == ModelFamily.Llama ? 500_000 : 1_000_000, TieWordEmbeddings = family != ModelFamily.Llama,
    };

    static ModelConfig DeepSeek(int vocab, int hidden, int layers, int heads, int qRank, int kvRank, int nope, int rope,
        int v, int dense, int expert, int routed, int shared, int topK, int groups, int topGroups) => new()
    {
        Family = ModelFamily.DeepseekV3, VocabSize = vocab, HiddenSize = hidden, NumHiddenLayers = layers,
        NumAttentionHeads = heads, NumKeyValueHeads = heads, IntermediateSize = dense, MaxPositionEmbeddings = 2048,
        QLoraRank = qRank, KvLoraRank = kvRank, QkNopeHeadDim = nope, QkRopeHeadDim = rope, VHeadDim = v,
        NRoutedExperts = routed, NSharedExperts = shared, NumExpertsPerTok = topK, MoeIntermediateSize = expert,
        NGroup = groups, TopkGroup = topGroups, RoutedScalingFactor = 2.5, FirstKDenseReplace = 1,
    };
}
