using R1Sharp.Model;
using TorchSharp;

namespace R1Sharp.Tests.Model;

/// <summary>Tiny random models of each family, seeded, for tests.</summary>
public static class TinyModels
{
    public const int Vocab = 300;

    public static IEnumerable<object[]> Families() =>
        [[ModelFamily.Llama], [ModelFamily.Qwen2], [ModelFamily.Qwen3], [ModelFamily.DeepseekV3]];

    public static CausalLanguageModel Create(ModelFamily family, int seed = 1, Func<ModelConfig, ModelConfig>? edit = null)
    {
        torch.manual_seed(seed);
        var config = ModelPresets.Create(family, "tiny", Vocab);
        var model = new CausalLanguageModel(edit?.Invoke(config) ?? config);
        model.eval();
        return model;
    }
}
