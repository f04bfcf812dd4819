using System.Text.Json.Nodes;

namespace R1Sharp.Model;

/// <summary>
/// HF <c>rope_scaling</c> (older) / <c>rope_parameters</c> (newer): "yarn" as in DeepSeek-V3, "llama3" as in
/// Llama-3.1, or "default". Unknown fields are kept so a config round-trips.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, int OriginalMaxPositionEmbeddings,
    double BetaFast = 32, double BetaSlow = 1, double Mscale = 1, double MscaleAllDim = 0,
    double LowFreqFactor = 1, double HighFreqFactor = 4)
{
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
            r.Double("low_freq_factor", 1), r.Double("high_freq_factor", 4));
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["type"] = Type, ["rope_type"] = Type, ["factor"] = Factor, ["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings };
        if (Type == "yarn")
        {
            o["beta_fast"] = BetaFast; o["beta_slow"] = BetaSlow; o["mscale"] = Mscale; o["mscale_all_dim"] = MscaleAllDim;
        }
        else
        {
            o["low_freq_factor"] = LowFreqFactor; o["high_freq_factor"] = HighFreqFactor;
        }
        return o;
    }
}
