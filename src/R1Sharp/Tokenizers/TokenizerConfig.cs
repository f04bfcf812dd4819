using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Tokenizers;

/// <summary>
/// What we read from and write to a Hugging Face tokenizer_config.json. Token fields hold the token text
/// (e.g. "&lt;｜begin▁of▁sentence｜&gt;"); HF writes them as a string or as {"content": …}, both are read.
/// </summary>
public sealed record TokenizerConfig
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }

    /// <summary>Whether the model expects BOS at the start of a sequence. Encode never adds it; callers do.</summary>
    public bool AddBosToken { get; init; }

    /// <summary>Decode removes the space before punctuation and English contractions (" ." → ".", " 's" → "'s").
    /// Off in DeepSeek and Qwen files, on in Llama-3's; missing means off, as in current transformers.</summary>
    public bool CleanUpTokenizationSpaces { get; init; }

    /// <summary>Our chat template name ("deepseek-r1", "chatml", "chatml-think"), stored as "r1_chat_template".
    /// Absent in third-party files: <see cref="ChatTemplate.FromConfig"/> then recognises <see cref="ChatTemplateText"/>.</summary>
    public string? ChatTemplateName { get; init; }

    /// <summary>The Jinja chat template Hugging Face renders, stored as "chat_template" (or in chat_template.jinja beside the file).
    /// In the list form [{"name", "template"}, …] this is the one named "default".</summary>
    public string? ChatTemplateText { get; init; }

    /// <summary>The other templates of the list form by name, e.g. "tool_use", which transformers picks when tools are given.</summary>
    public IReadOnlyDictionary<string, string> NamedChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>unk_token, sep_token, cls_token and mask_token when set: with BOS/EOS/PAD, the token variables
    /// transformers passes to a chat template.</summary>
    public IReadOnlyDictionary<string, string> OtherSpecialTokens { get; init; } = new Dictionary<string, string>();

    /// <summary>"additional_special_tokens", passed to chat templates as a list.</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];

    static readonly string[] OtherSpecialTokenFields = ["unk_token", "sep_token", "cls_token", "mask_token"];
    const string ChatTemplateFileName = "chat_template.jinja";

    const string OurTemplateField = "r1_chat_template";

    /// <summary>The config of our own tokenizers: R1 tokens and the DeepSeek-R1 chat template.</summary>
    public static TokenizerConfig ForOwnTokenizers { get; } = new()
    {
        BosToken = ChatTokens.Bos,
        EosToken = ChatTokens.Eos,
        PadToken = ChatTokens.Pad,
        AddBosToken = true,
        ChatTemplateName = ChatTemplate.DeepSeekR1.Name,
        ChatTemplateText = ChatTemplate.DeepSeekR1.JinjaText,
    };

    public static TokenizerConfig Load(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"tokenizer config not found: {path}");
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: not valid JSON ({e.Message})", e);
        }
        if (root is not JsonObject obj) throw new R1Error($"{path}: the top level must be a JSON object");
        try
        {
            var named = NamedTemplates(obj["chat_template"]);
            // Recent transformers saves the template as chat_template.jinja beside tokenizer_config.json.
            string templateFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, ChatTemplateFileName);
            string? templateText = obj["chat_template"] is JsonValue ? obj["chat_template"]!.GetValue<string>()
                : named.GetValueOrDefault("default") ?? (obj["chat_template"] is null && File.Exists(templateFile) ? File.ReadAllText(templateFile) : null);
            named.Remove("default");
            return new TokenizerConfig
            {
                BosToken = TokenText(obj["bos_token"]),
                EosToken = TokenText(obj["eos_token"]),
                PadToken = TokenText(obj["pad_token"]),
                AddBosToken = obj["add_bos_token"]?.GetValue<bool>() ?? false,
                CleanUpTokenizationSpaces = obj["clean_up_tokenization_spaces"]?.GetValue<bool>() ?? false,
                ChatTemplateName = obj[OurTemplateField]?.GetValue<string>(),
                ChatTemplateText = templateText,
                NamedChatTemplates = named,
                OtherSpecialTokens = OtherSpecialTokenFields.Where(f => TokenText(obj[f]) is not null).ToDictionary(f => f, f => TokenText(obj[f])!),
                AdditionalSpecialTokens = (obj["additional_special_tokens"] as JsonArray ?? []).Select(t => TokenText(t)
                    ?? throw new FormatException("additional_special_tokens holds a null")).ToList(),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new R1Error($"{path}: {e.Message}", e);
        }
    }

    static string? TokenText(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o["content"]?.GetValue<string>() ?? throw new FormatException($"token {o.ToJsonString()} has no content"),
        _ => node.GetValue<string>(),
    };

    // HF allows one template or a list of named ones; the one named "default" is the chat template.
    static Dictionary<string, string> NamedTemplates(JsonNode? node)
    {
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is not JsonArray list) return named;
        foreach (JsonNode? item in list)
        {
            if (item is not JsonObject t || t["name"]?.GetValue<string>() is not { } name || t["template"]?.GetValue<string>() is not { } template)
                throw new FormatException("chat_template list entries must be {\"name\": …, \"template\": …}");
            named[name] = template;
        }
        return named;
    }

    public void Save(string path)
    {
        var obj = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["bos_token"] = BosToken,
            ["eos_token"] = EosToken,
            ["pad_token"] = PadToken,
            ["add_bos_token"] = AddBosToken,
            ["add_eos_token"] = false,
            ["clean_up_tokenization_spaces"] = CleanUpTokenizationSpaces,
            ["chat_template"] = NamedChatTemplates.Count == 0 ? ChatTemplateText
                : new JsonArray([.. (ChatTemplateText is null ? [] : new[] { ("default", ChatTemplateText) }).Concat(NamedChatTemplates.Select(kv => (kv.Key, kv.Value)))
                    .Select(t => (JsonNode)new JsonObject { ["name"] = t.Item1, ["template"] = t.Item2 })]),
            [OurTemplateField] = ChatTemplateName,
        };
        foreach (var (field, token) in OtherSpecialTokens) obj[field] = token;
        if (AdditionalSpecialTokens.Count > 0) obj["additional_special_tokens"] = new JsonArray([.. AdditionalSpecialTokens.Select(t => (JsonNode)t)]);
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(path, obj.ToJsonString(options) + "\n");
    }
}
