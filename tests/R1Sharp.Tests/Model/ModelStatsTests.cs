using R1Sharp.Model;

namespace R1Sharp.Tests.Model;

public class ModelStatsTests
{
    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Parameter_count_from_the_config_equals_the_built_model(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var stats = ModelStats.Of(model.Config);
        Assert.Equal(model.parameters().Sum(p => p.NumberOfElements), stats.TotalParameters);
        if (family == ModelFamily.DeepseekV3) Assert.True(stats.ActiveParametersPerToken < stats.TotalParameters);
        else Assert.Equal(stats.TotalParameters, stats.ActiveParametersPerToken);
    }

    public static IEnumerable<object[]> Variants() =>
    [
        ["llama"], ["qwen2"], ["qwen3"], ["deepseek_v3"], ["llama with attention_bias"], ["llama with head_dim"], ["qwen2 untied"],
        ["qwen3 untied with attention_bias"],
        ["deepseek_v3 without q_lora_rank"], ["deepseek_v3 dense"], ["deepseek_v3 moe_layer_freq 2"], ["deepseek_v3 without shared experts"],
    ];

    static CausalLanguageModel Variant(string name) => name switch
    {
        "llama" => TinyModels.Create(ModelFamily.Llama),
        "qwen2" => TinyModels.Create(ModelFamily.Qwen2),
        "deepseek_v3" => TinyModels.Create(ModelFamily.DeepseekV3),
        "llama with attention_bias" => TinyModels.Create(ModelFamily.Llama, edit: c => c with { AttentionBias = true }),
        "llama with head_dim" => TinyModels.Create(ModelFamily.Llama, edit: c => c with { HeadDim = 32 }),
        "qwen2 untied" => TinyModels.Create(ModelFamily.Qwen2, edit: c => c with { TieWordEmbeddings = false }),
        "qwen3" => TinyModels.Create(ModelFamily.Qwen3),
        "qwen3 untied with attention_bias" => TinyModels.Create(ModelFamily.Qwen3, edit: c => c with { TieWordEmbeddings = false, AttentionBias = true }),
        "deepseek_v3 without q_lora_rank" => TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { QLoraRank = null }),
        "deepseek_v3 dense" => TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { NRoutedExperts = 0 }),
        "deepseek_v3 moe_layer_freq 2" => TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { MoeLayerFreq = 2, FirstKDenseReplace = 0, NumHiddenLayers = 3 }),
        _ => TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { NSharedExperts = 0 }),
    };

    /// <summary>The shape table weights are checked against before a model exists equals what the model builds.</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void Shapes_from_the_config_equal_the_built_models_tensors(string variant)
    {
        using var model = Variant(variant);
        var built = model.ExpectedShapes();
        var computed = ModelStats.ExpectedShapes(model.Config);
        Assert.Equal(built.Keys.Order(StringComparer.Ordinal), computed.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in built) Assert.True(shape.SequenceEqual(computed[name]), $"{name}: built [{string.Join(", ", shape)}], computed [{string.Join(", ", computed[name])}]");
        var stats = ModelStats.Of(model.Config);
        Assert.Equal(model.parameters().Sum(p => p.NumberOfElements), stats.TotalParameters);
    }

    [Fact]
    public void Mla_caches_far_fewer_bytes_per_token_than_gqa_at_the_same_width()
    {
        var gqa = ModelStats.Of(ModelPresets.Create(ModelFamily.Llama, "small", 4096));
        var mla = ModelStats.Of(ModelPresets.Create(ModelFamily.DeepseekV3, "small", 4096));
        Assert.True(mla.KvCacheBytesPerToken() * 3 < gqa.KvCacheBytesPerToken(),
            $"MLA {mla.KvCacheBytesPerToken()} B/token vs GQA {gqa.KvCacheBytesPerToken()} B/token");
    }

    /// <summary>DeepSeek-V3's config.json (shared/reference §1.1).</summary>
    internal static readonly ModelConfig DeepSeekV3 = new()
    {
        Family = ModelFamily.DeepseekV3, VocabSize = 129280, HiddenSize = 7168, IntermediateSize = 18432,
        NumHiddenLayers = 61, NumAttentionHeads = 128, NumKeyValueHeads = 128, QLoraRank = 1536, KvLoraRank = 512,
        QkNopeHeadDim = 128, QkRopeHeadDim = 64, VHeadDim = 128, NRoutedExperts = 256, NSharedExperts = 1,
        NumExpertsPerTok = 8, MoeIntermediateSize = 2048, NGroup = 8, TopkGroup = 4, FirstKDenseReplace = 3,
        RoutedScalingFactor = 2.5,
    };

    [Fact]
    public void DeepSeek_V3_figures_match_the_published_ones()
    {
        // 671B total, 37B active, 576 cached values per token and layer.
        var stats = ModelStats.Of(DeepSeekV3);
        Assert.InRange(stats.TotalParameters / 1e9, 670, 672.5);   // 671B without the 14B MTP module
        Assert.InRange(stats.ActiveParametersPerToken / 1e9, 36.5, 38);
        Assert.Equal(576, stats.KvCacheValuesPerTokenPerLayer);
        Assert.Equal(576L * 61 * 2, stats.KvCacheBytesPerToken());
    }
}
