using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Arena;

/// <summary>How a contestant samples its replies. Defaults are DeepSeek-R1's recommended settings.</summary>
public sealed record ArenaSampling(double Temperature = 0.6, double TopP = 0.95, int MaxTokens = 1024);

/// <summary>
/// One contestant of arena.json: a local model (<see cref="Model"/>: a model folder or a .gguf file, optionally with a
/// LoRA <see cref="Adapter"/>) or an OpenAI-compatible endpoint (<see cref="Url"/> of its /v1, the
/// <see cref="EndpointModel"/> to ask for, and the environment variable holding its API key, if it needs one).
/// </summary>
public sealed record ContestantConfig(string Name, ArenaSampling Sampling)
{
    public string? Model { get; init; }
    public string? Adapter { get; init; }
    public string? Url { get; init; }
    public string? EndpointModel { get; init; }
    public string? ApiKeyEnv { get; init; }
}

/// <summary>
/// arena.json: <c>{"contestants": [{"name", "model", "adapter"?} | {"name", "url", "endpoint_model", "api_key_env"?}, …],
/// "temperature", "top_p", "max_tokens"}</c>. The sampling keys are shared, and any contestant may set its own.
/// Parsing is strict: an unknown key, a wrong type or a value out of range is an error naming the file and the key.
/// Relative model paths are read from the config file's folder.
/// </summary>
public sealed record ArenaConfig(string Source, IReadOnlyList<ContestantConfig> Contestants, ArenaSampling Sampling)
{
    /// <summary>Largest arena.json read: a list of contestants, not a data file.</summary>
    public const int MaxFileBytes = 1 << 20;
    public const int MaxContestants = 256;
    /// <summary>Longest contestant name (it shows on the leaderboard).</summary>
    public const int MaxNameLength = 100;
    /// <summary>Most tokens a reply may be asked for.</summary>
    public const int MaxReplyTokens = 1 << 20;

    static readonly string[] SamplingKeys = ["temperature", "top_p", "max_tokens"];
    static readonly string[] TopKeys = ["contestants", .. SamplingKeys];
    static readonly string[] ContestantKeys = ["name", "model", "adapter", "url", "endpoint_model", "api_key_env", .. SamplingKeys];

    public static ArenaConfig Load(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: arena config not found");
        if (new FileInfo(path).Length > MaxFileBytes) throw new R1Error($"{path}: larger than {MaxFileBytes} bytes; an arena config lists contestants");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parse(File.ReadAllText(path), path, folder);
    }

    /// <param name="source">The file's name, for error messages.</param>
    /// <param name="folder">Where relative model and adapter paths start.</param>
    public static ArenaConfig Parse(string json, string source, string folder)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: not valid JSON ({e.Message})", e);
        }
        if (root is not JsonObject top) throw new R1Error($"{source}: expected a JSON object with a \"contestants\" list");
        var fields = new Fields(top, source, "");
        fields.RejectUnknown(TopKeys);
        var shared = fields.Sampling(new ArenaSampling());
        if (top["contestants"] is not JsonArray list) throw new R1Error($"{source}: \"contestants\" must be a list of contestants");
        if (list.Count < 2) throw new R1Error($"{source}: an arena needs at least 2 contestants, got {list.Count}");
        if (list.Count > MaxContestants) throw new R1Error($"{source}: at most {MaxContestants} contestants, got {list.Count}");

        var contestants = new List<ContestantConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < list.Count; i++)
        {
            string at = $"contestants[{i}]";
            if (list[i] is not JsonObject entry) throw new R1Error($"{source}: {at} must be an object");
            var f = new Fields(entry, source, at + ".");
            f.RejectUnknown(ContestantKeys);
            string name = f.String("name") ?? throw new R1Error($"{source}: {at}.name is required");
            if (name.Trim().Length == 0 || name.Length > MaxNameLength || name.Any(char.IsControl))
                throw new R1Error($"{source}: {at}.name must be 1 to {MaxNameLength} printable characters, got \"{UntrustedText.Printable(name, 60)}\"");
            if (!names.Add(name)) throw new R1Error($"{source}: {at}.name: two contestants are named \"{name}\"");

            string? model = f.String("model"), adapter = f.String("adapter"), url = f.String("url");
            string? endpointModel = f.String("endpoint_model"), keyVariable = f.String("api_key_env");
            if ((model is null) == (url is null))
                throw new R1Error($"{source}: {at} (\"{name}\") needs exactly one of \"model\" (a local model) and \"url\" (an OpenAI-compatible endpoint)");
            if (model is not null && (endpointModel ?? keyVariable) is not null)
                throw new R1Error($"{source}: {at}.{(endpointModel is not null ? "endpoint_model" : "api_key_env")} is for endpoints (\"url\"), not local models");
            if (url is not null)
            {
                if (adapter is not null) throw new R1Error($"{source}: {at}.adapter is for local models (\"model\"), not endpoints");
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    throw new R1Error($"{source}: {at}.url must be an http or https URL such as http://host:8080/v1, got \"{UntrustedText.Printable(url, 100)}\"");
                if (string.IsNullOrWhiteSpace(endpointModel)) throw new R1Error($"{source}: {at}.endpoint_model is required with \"url\" (the model name the endpoint serves)");
                if (keyVariable is { } v && (v.Length == 0 || v.Contains('=') || v.Any(char.IsControl)))
                    throw new R1Error($"{source}: {at}.api_key_env must name an environment variable, got \"{UntrustedText.Printable(v, 60)}\"");
            }
            string? Resolve(string? path) => path is null ? null : Path.GetFullPath(path, folder);
            contestants.Add(new ContestantConfig(name, f.Sampling(shared))
            {
                Model = Resolve(model), Adapter = Resolve(adapter), Url = url, EndpointModel = endpointModel, ApiKeyEnv = keyVariable,
            });
        }
        return new ArenaConfig(source, contestants, shared);
    }

    /// <summary>Typed reads of one object's keys, whose errors name the file and the key.</summary>
    sealed class Fields(JsonObject json, string source, string prefix)
    {
        public void RejectUnknown(string[] known)
        {
            foreach (var (key, _) in json)
                if (!known.Contains(key))
                    throw new R1Error($"{source}: unknown key \"{prefix}{UntrustedText.Printable(key, 60)}\" (known: {string.Join(", ", known)})");
        }

        JsonValue? Value(string key) => json[key] switch
        {
            null => null,
            JsonValue v => v,
            var other => throw new R1Error($"{source}: {prefix}{key} must be a single value, got {UntrustedText.Printable(other.ToJsonString(), 60)}"),
        };

        public string? String(string key) => Value(key) is not { } v ? null
            : v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
            : throw new R1Error($"{source}: {prefix}{key} must be a string, got {UntrustedText.Printable(v.ToJsonString(), 60)}");

        double? Number(string key) => Value(key) is not { } v ? null
            : v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && double.IsFinite(d) ? d
            : throw new R1Error($"{source}: {prefix}{key} must be a number, got {UntrustedText.Printable(v.ToJsonString(), 60)}");

        /// <summary>The sampling keys of this object laid over <paramref name="fallback"/>, each checked.</summary>
        public ArenaSampling Sampling(ArenaSampling fallback)
        {
            double temperature = Number("temperature") ?? fallback.Temperature;
            if (!(temperature is >= 0 and <= 2)) throw new R1Error($"{source}: {prefix}temperature must be between 0 and 2 (0 is greedy), got {temperature}");
            double topP = Number("top_p") ?? fallback.TopP;
            if (!(topP is > 0 and <= 1)) throw new R1Error($"{source}: {prefix}top_p must be greater than 0 and at most 1, got {topP}");
            double maxTokens = Number("max_tokens") ?? fallback.MaxTokens;
            if (maxTokens != Math.Floor(maxTokens) || maxTokens < 1 || maxTokens > MaxReplyTokens)
                throw new R1Error($"{source}: {prefix}max_tokens must be a whole number from 1 to {MaxReplyTokens}, got {maxTokens}");
            return new ArenaSampling(temperature, topP, (int)maxTokens);
        }
    }
}
