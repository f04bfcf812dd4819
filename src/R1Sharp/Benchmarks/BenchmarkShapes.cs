using R1Sharp.Model;

namespace R1Sharp.Benchmarks;

/// <summary>The llama-shaped models `r1 bench` builds with random weights.</summary>
public static class BenchmarkShapes
{
    /// <summary>`r1 init`'s small llama preset (the MFU target), a 25M model where per-op overhead shows,
    /// Qwen2.5-0.5B's shape with a 32k vocab, where memory bandwidth does, and Qwen2.5-1.5B's shape (the
    /// DeepSeek-R1-Distill-Qwen-1.5B people download; full 151,936 vocab, tied embeddings) for the quantized benchmarks.</summary>
    public static readonly IReadOnlyDictionary<string, ModelConfig> All = new Dictionary<string, ModelConfig>
    {
        ["small"] = ModelPresets.Create(ModelFamily.Llama, "small", 4096),
        ["25m"] = new() { VocabSize = 4096, HiddenSize = 512, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 8, IntermediateSize = 1536 },
        ["415m"] = new() { VocabSize = 32000, HiddenSize = 896, NumHiddenLayers = 24, NumAttentionHeads = 14, NumKeyValueHeads = 2, IntermediateSize = 4864 },
        ["1.5b"] = new()
        {
            Family = ModelFamily.Qwen2, VocabSize = 151936, HiddenSize = 1536, NumHiddenLayers = 28, NumAttentionHeads = 12, NumKeyValueHeads = 2,
            IntermediateSize = 8960, TieWordEmbeddings = true, RopeTheta = 1e6, MaxPositionEmbeddings = 4096,
        },
    };
}
