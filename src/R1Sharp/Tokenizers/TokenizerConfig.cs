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

    /// <summary>The Jinja chat template Hugging Face renders, stored as "chat_template".</summary>
    public string? ChatTemplateText { get; init; }

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
            return new TokenizerConfig
            {
                BosToken = TokenText(obj["bos_token"]),
                EosToken = TokenText(obj["eos_token"]),
                PadToken = TokenText(obj["pad_token"]),
                AddBosToken = obj["add_bos_token"]?.GetValue<bool>() ?? false,
                CleanUpTokenizationSpaces = obj["clean_up_tokenization_spaces"]?.GetValue<bool>() ?? false,
                ChatTemplateName = obj[OurTemplateField]?.GetValue<string>(),
                ChatTemplateText = TemplateText(obj["chat_template"]),
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
    static string? TemplateText(JsonNode? node) => node switch
    {
        null => null,
        JsonArray list => list.OfType<JsonObject>().FirstOrDefault(t => t["name"]?.GetValue<string>() == "default")?["template"]?.GetValue<string>(),
        _ => node.GetValue<string>(),
    };

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
            ["chat_template"] = ChatTemplateText,
            [OurTemplateField] = ChatTemplateName,
        };
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(path, obj.ToJsonString(options) + "\n");
    }
}
