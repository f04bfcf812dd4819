using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Model;

/// <summary>Typed reads of a config object whose errors name the file, the field and the bad value.</summary>
internal sealed class JsonFields(JsonObject json, string source)
{
    JsonValue? Value(string field) => json[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v => v,
        var other => throw new R1Error($"{source}: field '{field}' must be a value, got {other.ToJsonString()}"),
    };

    public int Int(string field) =>
        OptionalInt(field) ?? throw new R1Error($"{source}: missing field '{field}'");

    public int? OptionalInt(string field)
    {
        var v = Value(field);
        if (v is null) return null;
        if (v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i)) return i;
        if (v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        throw new R1Error($"{source}: field '{field}' must be an integer, got {v.ToJsonString()}");
    }

    public double Double(string field, double fallback)
    {
        var v = Value(field);
        if (v is null) return fallback;
        if (v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d)) return d;
        throw new R1Error($"{source}: field '{field}' must be a number, got {v.ToJsonString()}");
    }

    public bool Bool(string field, bool fallback)
    {
        var v = Value(field);
        if (v is null) return fallback;
        return v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new R1Error($"{source}: field '{field}' must be true or false, got {v.ToJsonString()}"),
        };
    }

    public string? String(string field, string? fallback)
    {
        var v = Value(field);
        if (v is null) return fallback;
        if (v.GetValueKind() == JsonValueKind.String) return v.GetValue<string>();
        throw new R1Error($"{source}: field '{field}' must be a string, got {v.ToJsonString()}");
    }

    /// <summary>HF allows eos_token_id to be one id or a list of ids.</summary>
    public int[] IntOrIntArray(string field)
    {
        if (json[field] is JsonArray array)
            return array.Select((n, i) => n is JsonValue v && v.TryGetValue(out int id) ? id
                : throw new R1Error($"{source}: field '{field}[{i}]' must be an integer")).ToArray();
        return OptionalInt(field) is int one ? [one] : [];
    }
}
