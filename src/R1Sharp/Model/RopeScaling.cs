using System.Text.Json.Nodes;

namespace R1Sharp.Model;

/// <summary>
/// HF <c>rope_scaling</c> (older) / <c>rope_parameters</c> (newer): "yarn" as in DeepSeek-V3, "llama3" as in
/// Llama-3.1, or "default". Unknown fields are kept so a config round-trips.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, int OriginalMaxPositionEmbeddings,
    double BetaFast = 32, double BetaSlow = 1, double Mscale = 1, double MscaleAllDim = 0,
    double LowFreqFactor = 1, double HighFreqFactor = 4, double? AttentionFactor = null, double AttnFactor = 1)
{
    /// <summary>
    /// YaRN's magnitude for rotate-half models, by which HF scales cos and sin (so q·k by its square): HF's
    /// <c>attention_factor</c>, else 0.1·ln(factor) + 1; times <c>attn_factor</c> (vLLM's correction, which
    /// DeepSeek-R1-0528-Qwen3-8B sets to cancel the default; HF transformers itself ignores it).
    /// </summary>
    public double YarnAttentionFactor => (AttentionFactor ?? (Factor <= 1 ? 1 : 0.1 * Math.Log(Factor) + 1)) * AttnFactor;

    public static RopeScaling? FromJson(JsonNode? node, string source)
    {
        if (node is null) return null;
        if (node is not JsonObject o) throw new R1Error($"{source}: 'rope_scaling' must be an object or null");
        var r = new JsonFields(o, source + " rope_scaling");
        string type = r.String("type", null) ?? r.String("rope_type", "default")!;
        if (type == "default") return null;
        if (type is not ("yarn" or "llama3"))
            throw new R1Error($"{source}: rope_scaling type '{type}' is not supported (yarn, llama3)");
        return new RopeScaling(type, r.Double("factor", 1),
            r.OptionalInt("original_max_position_embeddings") ?? throw new R1Error($"{source}: rope_scaling needs 'original_max_position_embeddings'"),
            r.Double("beta_fast", 32), r.Double("beta_slow", 1), r.Double("mscale", 1), r.Double("mscale_all_dim", 0),
            r.Double("low_freq_factor", 1), r.Double("high_freq_factor", 4),
            o["attention_factor"] is null ? null : r.Double("attention_factor", 1), r.Double("attn_factor", 1));
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["type"] = Type, ["rope_type"] = Type, ["factor"] = Factor, ["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings };
        if (Type == "yarn")
        {
            o["beta_fast"] = BetaFast; o["beta_slow"] = BetaSlow; o["mscale"] = Mscale; o["mscale_all_dim"] = MscaleAllDim;
            if (AttentionFactor is double attention) o["attention_factor"] = attention;
            if (AttnFactor != 1) o["attn_factor"] = AttnFactor;
        }
        else
        {
            o["low_freq_factor"] = LowFreqFactor; o["high_freq_factor"] = HighFreqFactor;
        }
        return o;
    }
}
