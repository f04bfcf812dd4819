using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

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

    /// <summary>JSON options writing properties and enum values the way TRL's configs do: LearningRate is
    /// "learning_rate", LossType.DrGrpo is "dr_grpo".</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    /// <summary>The same for report files (report.json, eval.json, ...): absent values left out, text kept readable.</summary>
    public static readonly JsonSerializerOptions Report = new(Json)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

/// <summary>
/// The configuration files of runs (a run's config.json, <c>--config FILE</c>). A file is laid over a baseline — the
/// built-in defaults, or the options the command line started from — key by key (nested objects too), so a key the
/// file leaves out keeps the baseline's value; flags are then laid over the result. That gives every command the one
/// precedence rule: built-in defaults &lt; config file &lt; flags. An unknown key or a value of the wrong type is an
/// error naming the file and the key.
/// </summary>
public static class ConfigJson
{
    // null where the record has no null (a "training": null section) is a wrong type, not a crash later.
    static readonly JsonSerializerOptions Options = new(SnakeCase.Json)
        { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, RespectNullableAnnotations = true };

    /// <summary><paramref name="baseline"/> with the keys of config file <paramref name="path"/> laid over it.</summary>
    public static T Load<T>(string path, T baseline) where T : notnull =>
        Read(File.Exists(path) ? File.ReadAllText(path) : throw new R1Error($"{path}: config file not found"), path, baseline);

    /// <summary><paramref name="baseline"/> with the keys of <paramref name="json"/> (read from <paramref name="source"/>) laid over it.</summary>
    public static T Read<T>(string json, string source, T baseline) where T : notnull
    {
        if (Parse(json, source) is not JsonObject keys) throw new R1Error($"{source}: expected a JSON object of options");
        CheckKeys(keys, Options.GetTypeInfo(typeof(T)), source, "");
        var merged = JsonSerializer.SerializeToNode(baseline, Options)!.AsObject();
        LayOver(merged, keys);
        return FromNode<T>(merged, source, Options);
    }

    /// <summary>
    /// A JSON file we read back (a report, a trainer state) as a <typeparamref name="T"/>. Bad JSON, and a value of the
    /// wrong type, are errors naming the file and the key — "eval.json: key 'prompts': expected a whole number" —
    /// never a .NET type.
    /// </summary>
    public static T Deserialize<T>(string json, string source, JsonSerializerOptions options) =>
        FromNode<T>(Parse(json, source), source, options);

    static JsonNode? Parse(string json, string source)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: not valid JSON ({e.Message})", e);
        }
    }

    static T FromNode<T>(JsonNode? node, string source, JsonSerializerOptions options)
    {
        if (node is not JsonObject) throw new R1Error($"{source}: expected a JSON object");
        try
        {
            return node.Deserialize<T>(options) ?? throw new R1Error($"{source}: empty");
        }
        catch (JsonException e)
        {
            string key = (e.Path ?? "$").TrimStart('$', '.');
            // System.Text.Json names the missing required keys (as JSON names) after "including: ".
            string missing = e.Message.Contains("missing required properties", StringComparison.Ordinal) && e.Message.IndexOf("including: ", StringComparison.Ordinal) is int at and >= 0
                ? e.Message[(at + "including: ".Length)..].TrimEnd('.') : "";
            throw new R1Error(missing.Length > 0 ? $"{source}: missing key(s) {missing}"
                : key.Length == 0 ? $"{source}: a value has the wrong type"
                : $"{source}: key '{key}': {Expected(typeof(T), key, options)}", e);
        }
    }

    /// <summary>The same record with <paramref name="config"/>'s values, as JSON (what config.json holds).</summary>
    public static string Write(object config) => JsonSerializer.Serialize(config, config.GetType(), SnakeCase.Json);

    /// <summary>Throws <see cref="R1Error"/> "option KEY = VALUE RULE" unless <paramref name="ok"/>.</summary>
    public static void Require(bool ok, string key, object? value, string rule)
    {
        if (ok) return;
        string shown = value switch
        {
            IEnumerable<double> list => "[" + string.Join(", ", list.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value?.ToString() ?? "null",
        };
        throw new R1Error($"option {key} = {shown} {rule}");
    }

    static void CheckKeys(JsonObject file, JsonTypeInfo type, string source, string prefix)
    {
        foreach (var (key, value) in file)
        {
            var known = type.Properties.Where(p => p.Set is not null).ToList();
            var property = known.FirstOrDefault(p => p.Name == key);
            if (property is null)
            {
                var closest = known.MinBy(p => EditDistance(p.Name, key));
                string hint = closest is not null && EditDistance(closest.Name, key) <= 3 ? $"; did you mean '{prefix}{closest.Name}'?" : "";
                throw new R1Error($"{source}: unknown key '{prefix}{key}'{hint}");
            }
            var inner = Options.GetTypeInfo(property.PropertyType);
            if (value is JsonObject nested && inner.Kind == JsonTypeInfoKind.Object)
                CheckKeys(nested, inner, source, $"{prefix}{key}.");
        }
    }

    static void LayOver(JsonObject target, JsonObject file)
    {
        foreach (var (key, value) in file)
        {
            if (target[key] is JsonObject below && value is JsonObject above) LayOver(below, above);
            else target[key] = value?.DeepClone();
        }
    }

    static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>What key path <paramref name="key"/> of <paramref name="root"/> takes, for an error message.</summary>
    static string Expected(Type root, string key, JsonSerializerOptions options)
    {
        Type? type = root;
        bool element = false;
        foreach (var name in key.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            type = type is null ? null : options.GetTypeInfo(type).Properties.FirstOrDefault(p => p.Name == name.Split('[')[0])?.PropertyType;
            element = name.Contains('[');
        }
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        var info = type is null ? null : options.GetTypeInfo(type);
        if (info?.ElementType is { } itemType && element) (type, info) = (Nullable.GetUnderlyingType(itemType) ?? itemType, options.GetTypeInfo(itemType));
        return type switch
        {
            { IsEnum: true } => $"expected one of {string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.SnakeCaseLower.ConvertName))}",
            _ when type == typeof(bool) => "expected true or false",
            _ when type == typeof(string) => "expected a string",
            _ when type == typeof(int) || type == typeof(long) => "expected a whole number",
            _ when type == typeof(double) || type == typeof(float) => "expected a number",
            _ when info?.Kind == JsonTypeInfoKind.Enumerable => "expected a list",
            _ when info?.Kind is JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "expected an object",
            _ => "a value of the wrong type",
        };
    }
}
