namespace R1Sharp.Model;

/// <summary>
/// Named shapes for `r1 init`. "tiny" builds in milliseconds for tests; "small" (~10-30M parameters) is the
/// size a laptop CPU trains in minutes.
/// </summary>
public static class ModelPresets
{
    public static readonly string[] Names = ["tiny", "small"];

    public static ModelConfig Create(ModelFamily family, string preset, int vocabSize) => preset switch
    {
        "tiny" => family == ModelFamily.DeepseekV3
            ? DeepSeek(vocabSize, hidden: 64, layers: 2, heads: 4, qRank: 32, kvRank: 16, nope: 16, rope: 8, v: 16,
                       dense: 128, expert: 32, routed: 8, shared: 1, topK: 2, groups: 4, topGroups: 2)
            : Gqa(family, vocabSize, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128),
        "small" => family == ModelFamily.DeepseekV3
            ? DeepSeek(vocabSize, hidden: 384, layers: 8, heads: 6, qRank: 192, kvRank: 64, nope: 48, rope: 16, v: 64,
                       dense: 1024, expert: 256, routed: 16, shared: 1, topK: 2, groups: 4, topGroups: 2)
            : Gqa(family, vocabSize, hidden: 384, layers: 8, heads: 6, kvHeads: 2, ffn: 1024),
        _ => throw new R1Error($"unknown preset '{preset}' (expected {string.Join(", ", Names)})"),
    };

    static ModelConfig Gqa(ModelFamily family, int vocab, int hidden, int layers, int heads, int kvHeads, int ffn) => new()
    {
        Family = family, VocabSize = vocab, HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads, IntermediateSize = ffn, MaxPositionEmbeddings = 2048,
        RopeTheta = family == ModelFamily.Qwen2 ? 1_000_000 : 500_000, TieWordEmbeddings = family == ModelFamily.Qwen2,
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
