using System.Text.Json.Nodes;
using R1Sharp.Model;

namespace R1Sharp.Tests.Model;

/// <summary>config.json is untrusted: every size is bounded and every number checked before anything is sized from it (#20.6).</summary>
public class ModelConfigTests
{
    static ModelConfig Parse(ModelFamily family, Action<JsonObject> edit)
    {
        var json = ModelPresets.Create(family, "tiny", 300).ToJson();
        edit(json);
        return ModelConfig.FromJson(JsonNode.Parse(json.ToJsonString())!.AsObject(), "model/config.json");
    }

    [Theory]
    [InlineData("vocab_size", "2e9", "over the 4,194,304")]
    [InlineData("hidden_size", "1073741824", "over the 65,536")]
    [InlineData("num_hidden_layers", "1e9", "over the 1,024")]
    [InlineData("intermediate_size", "-5", "must be positive")]
    [InlineData("num_attention_heads", "0", "must be positive")]
    [InlineData("num_key_value_heads", "8", "over the 4")]
    [InlineData("head_dim", "100000", "over the 4,096")]
    [InlineData("max_position_embeddings", "2000000000", "over the 16,777,216")]
    [InlineData("rms_norm_eps", "-1e-6", "finite number above 0")]
    [InlineData("rms_norm_eps", "0", "finite number above 0")]
    [InlineData("rope_theta", "0", "finite number above 1")]
    [InlineData("rope_theta", "-10000", "finite number above 1")]
    [InlineData("initializer_range", "-0.02", "at least 0")]
    public void Out_of_range_fields_are_named_with_their_value(string field, string value, string problem)
    {
        var e = Assert.Throws<R1Error>(() => Parse(ModelFamily.Llama, c => c[field] = JsonNode.Parse(value)));
        Assert.StartsWith("model/config.json: ", e.Message);
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("n_routed_experts", "-1", "at least 0")]
    [InlineData("n_routed_experts", "100000", "over the 4,096")]
    [InlineData("moe_layer_freq", "0", "must be positive")]
    [InlineData("first_k_dense_replace", "-1", "at least 0")]
    [InlineData("num_experts_per_tok", "9", "over the 8")]
    [InlineData("kv_lora_rank", "0", "must be positive")]
    [InlineData("q_lora_rank", "1000000", "over the 65,536")]
    [InlineData("qk_rope_head_dim", "-8", "must be positive")]
    [InlineData("routed_scaling_factor", "0", "finite number above 0")]
    public void Out_of_range_deepseek_fields_are_named(string field, string value, string problem)
    {
        var e = Assert.Throws<R1Error>(() => Parse(ModelFamily.DeepseekV3, c => c[field] = JsonNode.Parse(value)));
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("""{"type": "llama3", "factor": 8, "original_max_position_embeddings": 8192, "low_freq_factor": 4, "high_freq_factor": 4}""", "high_freq_factor")]
    [InlineData("""{"type": "llama3", "factor": 0, "original_max_position_embeddings": 8192}""", "rope_scaling.factor")]
    [InlineData("""{"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_slow": -1}""", "beta_slow")]
    [InlineData("""{"type": "yarn", "factor": 40, "original_max_position_embeddings": -4096}""", "original_max_position_embeddings")]
    public void Rope_scaling_that_would_give_garbage_frequencies_is_refused(string scaling, string field)
    {
        var e = Assert.Throws<R1Error>(() => Parse(ModelFamily.Llama, c => c["rope_scaling"] = JsonNode.Parse(scaling)));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Rotary_tables_are_bounded()
    {
        // 10M positions × 128 rotary pairs: 1.3G values that building the model would compute at once.
        var e = Assert.Throws<R1Error>(() => Parse(ModelFamily.Llama, c => { c["head_dim"] = 256; c["max_position_embeddings"] = 10_000_000; }));
        Assert.Contains("max_position_embeddings (10,000,000)", e.Message);
        Assert.Contains("rotary-table values", e.Message);
    }

    [Fact]
    public void Experts_over_all_layers_are_bounded()
    {
        var e = Assert.Throws<R1Error>(() => Parse(ModelFamily.DeepseekV3, c => { c["n_routed_experts"] = 4096; c["n_group"] = 4; c["num_hidden_layers"] = 1000; }));
        Assert.Contains("routed experts over all layers", e.Message);
    }

    [Fact]
    public void Published_configs_are_within_the_bounds()
    {
        // DeepSeek-V3 / R1 (shared/reference §1.1) and a long-context Qwen2.5.
        Parse(ModelFamily.DeepseekV3, c =>
        {
            c["vocab_size"] = 129280; c["hidden_size"] = 7168; c["intermediate_size"] = 18432; c["num_hidden_layers"] = 61;
            c["num_attention_heads"] = 128; c["q_lora_rank"] = 1536; c["kv_lora_rank"] = 512; c["qk_nope_head_dim"] = 128;
            c["qk_rope_head_dim"] = 64; c["v_head_dim"] = 128; c["n_routed_experts"] = 256; c["n_shared_experts"] = 1;
            c["num_experts_per_tok"] = 8; c["moe_intermediate_size"] = 2048; c["n_group"] = 8; c["topk_group"] = 4;
            c["first_k_dense_replace"] = 3; c["max_position_embeddings"] = 163840; c["rope_theta"] = 10000;
        });
        Parse(ModelFamily.Qwen2, c =>
        {
            c["vocab_size"] = 152064; c["hidden_size"] = 5120; c["intermediate_size"] = 27648; c["num_hidden_layers"] = 64;
            c["num_attention_heads"] = 40; c["num_key_value_heads"] = 8; c["max_position_embeddings"] = 1010000; c["rope_theta"] = 10000000;
        });
    }
}
