using R1Sharp.Model;

namespace R1Sharp.Benchmarks;

/// <summary>The llama-shaped models `r1 bench` builds with random weights.</summary>
public static class BenchmarkShapes
{
    /// <summary>`r1 init`'s small llama preset (the MFU target), a 25M model where per-op overhead shows, and
    /// Qwen2.5-0.5B's shape with a 32k vocab, where memory bandwidth does.</summary>
    public static readonly IReadOnlyDictionary<string, ModelConfig> All = new Dictionary<string, ModelConfig>
    {
        ["small"] = ModelPresets.Create(ModelFamily.Llama, "small", 4096),
        ["25m"] = new() { VocabSize = 4096, HiddenSize = 512, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 8, IntermediateSize = 1536 },
        ["415m"] = new() { VocabSize = 32000, HiddenSize = 896, NumHiddenLayers = 24, NumAttentionHeads = 14, NumKeyValueHeads = 2, IntermediateSize = 4864 },
    };
}
