using System.Text.Json.Nodes;
using R1Sharp.Model;

namespace R1Sharp.Tests.Model;

/// <summary>Real Hugging Face config.json files, qwen3's defaults, sliding-window fields and transformers 5's layout.</summary>
public class HfConfigTests
{
    static string ConfigPath(string name) => Path.Combine(AppContext.BaseDirectory, "Data", "configs", name + ".json");

    /// <summary>Parameters outside the embedding and the LM head, as model cards count "non-embedding" parameters.</summary>
    static long NonEmbedding(ModelConfig c) =>
        ModelStats.Of(c).TotalParameters - (long)c.VocabSize * c.HiddenSize * (c.TieWordEmbeddings ? 1 : 2);

    [Theory]
    // Model cards: Qwen3-0.6B "0.6B, non-embedding 0.44B"; Qwen3-8B "8.2B, non-embedding 6.95B"; the R1-0528 distill
    // is Qwen3-8B's shape with a YaRN-extended context; Qwen2.5-1.5B "1.54B, non-embedding 1.31B".
    [InlineData("Qwen3-0.6B", 0.6, 1, 0.44, 2)]
    [InlineData("Qwen3-8B", 8.2, 1, 6.95, 2)]
    [InlineData("DeepSeek-R1-0528-Qwen3-8B", 8.2, 1, 6.95, 2)]
    [InlineData("Qwen2.5-1.5B", 1.54, 2, 1.31, 2)]
    public void Real_configs_parse_and_give_the_published_parameter_counts(string name, double billions, int digits, double nonEmbedding, int nonEmbeddingDigits)
    {
        var c = ModelConfig.Load(ConfigPath(name));
        Assert.Equal(Math.Round(billions, digits), Math.Round(ModelStats.Of(c).TotalParameters / 1e9, digits));
        Assert.Equal(Math.Round(nonEmbedding, nonEmbeddingDigits), Math.Round(NonEmbedding(c) / 1e9, nonEmbeddingDigits));
        Assert.Equal(ModelStats.Of(c).TotalParameters, ModelStats.Of(c).ActiveParametersPerToken);
    }

    [Fact]
    public void Qwen3_configs_keep_their_explicit_head_dim_and_per_head_norms()
    {
        var small = ModelConfig.Load(ConfigPath("Qwen3-0.6B"));
        Assert.Equal(ModelFamily.Qwen3, small.Family);
        Assert.Equal(128, small.GqaHeadDim); // not 1024 / 16 = 64
        Assert.True(small.HasQkNorm);
        Assert.False(small.HasQkvBias);
        Assert.False(small.HasOutputBias);
        Assert.True(small.TieWordEmbeddings);
        Assert.Equal(1_000_000, small.RopeTheta);
        Assert.Equal([151645], small.EosTokenIds);
        // Exactly: 28 layers of attention (with the two 128-wide norms), MLP and norms, plus the tied embedding and final norm.
        long layer = 1024L * (16 * 128 + 2 * 8 * 128) + 16 * 128 * 1024 + 2 * 128 + 3 * 1024L * 3072 + 2 * 1024;
        Assert.Equal(28 * layer + 151936L * 1024 + 1024, ModelStats.Of(small).TotalParameters);
        Assert.Equal(2 * 8 * 128, ModelStats.Of(small).KvCacheValuesPerTokenPerLayer);

        var distill = ModelConfig.Load(ConfigPath("DeepSeek-R1-0528-Qwen3-8B"));
        Assert.False(distill.TieWordEmbeddings);
        Assert.Equal(131072, distill.MaxPositionEmbeddings);
        Assert.Equal(new RopeScaling("yarn", 4, 32768, AttnFactor: 0.8782488562869419), distill.RopeScaling);
        Assert.Equal(1.0, distill.RopeScaling!.YarnAttentionFactor, 4); // attn_factor cancels YaRN's 0.1·ln 4 + 1
        Assert.Equal(distill.RopeScaling, ModelConfig.FromJson(distill.ToJson(), "round trip").RopeScaling);
    }

    static JsonObject Qwen(string family) => new()
    {
        ["model_type"] = family, ["vocab_size"] = 100, ["hidden_size"] = 64, ["intermediate_size"] = 128, ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
    };

    [Fact]
    public void Without_head_dim_qwen3_takes_hf_default_of_128_and_the_others_hidden_over_heads()
    {
        Assert.Equal(128, ModelConfig.FromJson(Qwen("qwen3"), "test").GqaHeadDim);
        Assert.Equal(16, ModelConfig.FromJson(Qwen("qwen2"), "test").GqaHeadDim);
        Assert.Equal(16, ModelConfig.FromJson(Qwen("llama"), "test").GqaHeadDim);
    }

    [Fact]
    public void A_qwen3_config_round_trips_through_config_json_with_its_head_dim()
    {
        var preset = ModelPresets.Create(ModelFamily.Qwen3, "tiny", 300) with { AttentionBias = true };
        var json = preset.ToJson();
        Assert.Equal("Qwen3ForCausalLM", json["architectures"]![0]!.GetValue<string>());
        Assert.Equal(32, json["head_dim"]!.GetValue<int>());
        Assert.False(json["use_sliding_window"]!.GetValue<bool>());
        var back = ModelConfig.FromJson(json, "round trip");
        Assert.Equal(preset.Family, back.Family);
        Assert.Equal(32, back.GqaHeadDim);
        Assert.True(back.AttentionBias && back.HasQkvBias && back.HasOutputBias);
        Assert.Equal(preset.TieWordEmbeddings, back.TieWordEmbeddings);
        Assert.Equal(preset.RopeTheta, back.RopeTheta);
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    public void Sliding_window_attention_is_refused_with_the_field_named(string family)
    {
        var on = Qwen(family);
        on["use_sliding_window"] = true;
        on["sliding_window"] = 4096;
        on["max_window_layers"] = 1;
        Assert.Contains("use_sliding_window", Assert.Throws<R1Error>(() => ModelConfig.FromJson(on, "config.json")).Message);

        var typed = Qwen(family);
        typed["layer_types"] = new JsonArray("full_attention", "sliding_attention");
        Assert.Contains("layer_types[1]", Assert.Throws<R1Error>(() => ModelConfig.FromJson(typed, "config.json")).Message);

        // As released: the fields are there and off (or on for no layer), and every layer attends fully.
        var off = Qwen(family);
        off["use_sliding_window"] = false;
        off["sliding_window"] = 32768;
        off["max_window_layers"] = 21;
        ModelConfig.FromJson(off, "config.json");
        var allFull = Qwen(family);
        allFull["use_sliding_window"] = true;
        allFull["sliding_window"] = 4096;
        allFull["max_window_layers"] = 2;
        allFull["layer_types"] = new JsonArray("full_attention", "full_attention");
        ModelConfig.FromJson(allFull, "config.json");
    }

    [Fact]
    public void Transformers_5_rope_parameters_give_rope_theta()
    {
        var json = Qwen("qwen3");
        json["rope_parameters"] = new JsonObject { ["rope_theta"] = 1_000_000.0, ["rope_type"] = "default" };
        var c = ModelConfig.FromJson(json, "config.json");
        Assert.Equal(1_000_000, c.RopeTheta);
        Assert.Null(c.RopeScaling);
    }

    [Fact]
    public void A_non_positive_head_dim_is_named()
    {
        var json = Qwen("qwen3");
        json["head_dim"] = 0;
        Assert.Contains("'head_dim' must be positive", Assert.Throws<R1Error>(() => ModelConfig.FromJson(json, "config.json")).Message);
    }
}
