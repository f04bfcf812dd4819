using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Sharp.Training;

/// <summary>
/// TRL spells option values snake_case ("dr_grpo"); C# enums are PascalCase. One mapping for JSON files and
/// command-line values so both read the same words.
/// </summary>
public static class SnakeCase
{
    public static string Name<TEnum>(TEnum value) where TEnum : struct, Enum =>
        JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    public static TEnum Parse<TEnum>(string value, string field) where TEnum : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<TEnum>())
            if (Name(candidate) == value.Trim().ToLowerInvariant())
                return candidate;
        throw new R1Error($"{field}: '{value}' is not one of {string.Join(", ", Enum.GetValues<TEnum>().Select(Name))}");
    }

    /// <summary>JSON options writing properties and enum values the way TRL's configs do.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };
}
