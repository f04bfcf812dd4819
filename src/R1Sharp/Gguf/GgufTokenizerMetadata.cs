using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Gguf;

/// <summary>
/// The <c>tokenizer.*</c> keys llama.cpp reads, built from a Hugging Face byte-level BPE tokenizer.json (and
/// tokenizer_config.json for special tokens and the chat template), as llama.cpp's convert_hf_to_gguf.py does.
/// </summary>
public static class GgufTokenizerMetadata
{
    // llama.cpp token types (llama.h enum llama_token_type).
    public const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>
    /// R1Sharp's own keys, for what llama.cpp's tokenizer keys leave out but Hugging Face's tokenizer does: whether text
    /// is NFC-normalised first, whether a piece found whole in the vocabulary skips merging, and whether decoding removes
    /// the space before punctuation. llama.cpp ignores them; files without them get the family's usual setting
    /// (<see cref="GgufTokenizer"/>).
    /// </summary>
    public const string NormalizerKey = "r1sharp.tokenizer.normalizer", IgnoreMergesKey = "r1sharp.tokenizer.ignore_merges",
        CleanUpSpacesKey = "r1sharp.tokenizer.clean_up_tokenization_spaces";

    /// <summary>The Split regexes of tokenizer.json pre-tokenizers llama.cpp implements, by its pre-tokenizer name.</summary>
    static readonly (string Name, string[] Regexes)[] KnownPreTokenizers =
    [
        ("qwen2", [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        ("llama-bpe", [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        ("deepseek-v3",
        [
            @"\p{N}{1,3}",
            "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
        ]),
    ];

    /// <summary>
    /// Tokenizer metadata for a model of <paramref name="vocabSize"/> ids. Ids the tokenizer does not use become
    /// unused "[PAD{id}]" tokens. <paramref name="fallbackBos"/>/<paramref name="fallbackEos"/>/<paramref name="fallbackPad"/>
    /// (from config.json) are used when tokenizer_config.json names no such token.
    /// </summary>
    public static List<(string Key, GgufValue Value)> Build(string tokenizerJsonPath, string? tokenizerConfigPath, int vocabSize,
        int? fallbackBos = null, int? fallbackEos = null, int? fallbackPad = null)
    {
        var json = ParseObject(tokenizerJsonPath);
        var config = tokenizerConfigPath is not null && File.Exists(tokenizerConfigPath) ? ParseObject(tokenizerConfigPath) : null;
        string src = tokenizerJsonPath;

        if (json["model"] is not JsonObject model || (string?)model["type"] != "BPE")
            throw new R1Error($"{src}: only BPE tokenizers can be exported to GGUF (model.type is '{json["model"]?["type"]}')");
        if (!UsesByteLevel(json))
            throw new R1Error($"{src}: only byte-level BPE tokenizers (a ByteLevel pre-tokenizer or decoder) can be exported to GGUF");
        if (model["vocab"] is not JsonObject vocab) throw new R1Error($"{src}: model.vocab must be an object of token → id");

        var tokens = new string?[vocabSize];
        var types = new int[vocabSize];
        void Place(string token, int id, int type, string where)
        {
            if (id < 0 || id >= vocabSize) throw new R1Error($"{src}: {where} token '{token}' has id {id}, outside the model's vocab of {vocabSize}");
            tokens[id] = token;
            types[id] = type;
        }
        foreach (var (token, idNode) in vocab) Place(token, Id(idNode, src, token), Normal, "vocab");
        foreach (var added in json["added_tokens"] as JsonArray ?? [])
        {
            string content = (string?)added?["content"] ?? throw new R1Error($"{src}: an added token has no content");
            bool special = added!["special"]?.GetValue<bool>() ?? false;
            Place(content, Id(added["id"], src, content), special || LooksSpecial(content) ? Control : UserDefined, "added");
        }
        for (int i = 0; i < vocabSize; i++)
        {
            if (tokens[i] is not null) continue;
            tokens[i] = $"[PAD{i}]";
            types[i] = Unused;
        }
        var duplicate = tokens.GroupBy(t => t).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new R1Error($"{src}: token '{duplicate.Key}' has more than one id; llama.cpp needs unique token texts");
        var ids = new Dictionary<string, int>();
        for (int i = 0; i < vocabSize; i++) ids[tokens[i]!] = i;

        var merges = (model["merges"] as JsonArray ?? []).Select(m => m switch
        {
            JsonArray pair when pair.Count == 2 => $"{pair[0]} {pair[1]}",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw new R1Error($"{src}: merge {m?.ToJsonString()} must be \"a b\" or [\"a\", \"b\"]"),
        }).ToList();

        var kv = new List<(string, GgufValue)>
        {
            ("tokenizer.ggml.model", GgufValue.String("gpt2")),
            ("tokenizer.ggml.pre", GgufValue.String(PreTokenizerName(json, src))),
            ("tokenizer.ggml.tokens", GgufValue.Strings(tokens!)),
            ("tokenizer.ggml.token_type", GgufValue.Int32s(types)),
            ("tokenizer.ggml.merges", GgufValue.Strings(merges)),
        };
        int? bos = SpecialId(config, "bos_token", ids, tokenizerConfigPath) ?? fallbackBos;
        int? eos = SpecialId(config, "eos_token", ids, tokenizerConfigPath) ?? fallbackEos;
        int? pad = SpecialId(config, "pad_token", ids, tokenizerConfigPath) ?? fallbackPad;
        foreach (var (key, id) in new[] { ("bos", bos), ("eos", eos), ("padding", pad) })
        {
            if (id is not int value) continue;
            if (value < 0 || value >= vocabSize) throw new R1Error($"{src}: {key} token id {value} is outside the vocab of {vocabSize}");
            kv.Add(($"tokenizer.ggml.{key}_token_id", GgufValue.U32((uint)value)));
        }
        kv.Add(("tokenizer.ggml.add_bos_token", GgufValue.Bool(AddsBos(json, config, bos is int b ? tokens[b] : null))));
        kv.Add(("tokenizer.ggml.add_eos_token", GgufValue.Bool(config?["add_eos_token"]?.GetValue<bool>() ?? false)));
        kv.Add((NormalizerKey, GgufValue.String(IsNfc(json["normalizer"]) ? "NFC" : "none")));
        kv.Add((IgnoreMergesKey, GgufValue.Bool(model["ignore_merges"]?.GetValue<bool>() ?? false)));
        kv.Add((CleanUpSpacesKey, GgufValue.Bool(config?["clean_up_tokenization_spaces"]?.GetValue<bool>() ?? false)));
        if (ChatTemplate(config, tokenizerJsonPath, tokenizerConfigPath) is string template)
            kv.Add(("tokenizer.chat_template", GgufValue.String(template)));
        return kv;
    }

    /// <summary>
    /// The split regexes of the pre-tokenizer llama.cpp calls <paramref name="name"/> (tokenizer.ggml.pre), or null for
    /// one R1Sharp does not know. Aliases as llama.cpp reads them: deepseek-r1-qwen splits as qwen2, llama3 as llama-bpe.
    /// </summary>
    public static string[]? SplitRegexes(string name)
    {
        string canonical = name switch
        {
            "deepseek-r1-qwen" => "qwen2",
            "llama3" or "llama-v3" => "llama-bpe",
            _ => name,
        };
        if (canonical == "gpt-2") return [Tokenizers.SplitPreTokenizer.Gpt2Pattern];
        return KnownPreTokenizers.FirstOrDefault(k => k.Name == canonical).Regexes;
    }

    /// <summary>The llama.cpp pre-tokenizer whose regexes are the tokenizer.json's Split regexes.</summary>
    public static string PreTokenizerName(JsonObject tokenizerJson, string source)
    {
        var node = tokenizerJson["pre_tokenizer"];
        var steps = node?["type"]?.GetValue<string>() == "Sequence" ? (node["pretokenizers"] as JsonArray ?? []).ToList() : [node];
        var regexes = new List<string>();
        bool byteLevelRegex = false;
        foreach (var step in steps)
        {
            switch ((string?)step?["type"])
            {
                case "Split" when (step!["pattern"]?["Regex"]) is JsonValue regex:
                    regexes.Add(regex.GetValue<string>());
                    break;
                case "ByteLevel":
                    byteLevelRegex = step!["use_regex"]?.GetValue<bool>() ?? true;
                    break;
                case null:
                    break;
                default:
                    throw new R1Error($"{source}: pre-tokenizer step {step!.ToJsonString()} has no llama.cpp equivalent");
            }
        }
        if (regexes.Count == 0 && byteLevelRegex) return "gpt-2"; // ByteLevel's built-in GPT-2 regex
        foreach (var (name, known) in KnownPreTokenizers)
            if (!byteLevelRegex && regexes.SequenceEqual(known)) return name;
        throw new R1Error($"{source}: the pre-tokenizer's split regexes [{string.Join(", ", regexes.Select(r => JsonSerializer.Serialize(r)))}]" +
            $" match none llama.cpp implements (GPT-2 ByteLevel, {string.Join(", ", KnownPreTokenizers.Select(k => k.Name))})");
    }

    static bool IsNfc(JsonNode? normalizer) => (string?)normalizer?["type"] switch
    {
        "NFC" => true,
        "Sequence" => (normalizer!["normalizers"] as JsonArray ?? []).Any(IsNfc),
        _ => false,
    };

    static bool UsesByteLevel(JsonObject json)
    {
        static bool Has(JsonNode? node) => node switch
        {
            JsonObject o when (string?)o["type"] == "ByteLevel" => true,
            JsonObject o => Has(o["pretokenizers"]) || Has(o["decoders"]),
            JsonArray a => a.Any(Has),
            _ => false,
        };
        return Has(json["pre_tokenizer"]) || Has(json["decoder"]);
    }

    /// <summary>llama.cpp's converter also treats added tokens spelled like "&lt;|x|&gt;" as control tokens.</summary>
    static bool LooksSpecial(string token) =>
        (token.StartsWith("<|") && token.EndsWith("|>")) || (token.StartsWith("<｜") && token.EndsWith("｜>"));

    static int Id(JsonNode? node, string source, string token) =>
        node is JsonValue v && v.TryGetValue(out int id) ? id : throw new R1Error($"{source}: token '{token}' has a non-integer id {node?.ToJsonString()}");

    /// <summary>tokenizer_config.json names special tokens by text, either "text" or {"content": "text"}.</summary>
    static int? SpecialId(JsonObject? config, string field, Dictionary<string, int> ids, string? source)
    {
        string? text = config?[field] switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonObject o => (string?)o["content"],
            _ => null,
        };
        if (text is null) return null;
        return ids.TryGetValue(text, out int id) ? id : throw new R1Error($"{source}: {field} '{text}' is not a token of the tokenizer");
    }

    /// <summary>add_bos_token from tokenizer_config.json, else whether the post-processor's template starts with BOS.</summary>
    static bool AddsBos(JsonObject json, JsonObject? config, string? bosText)
    {
        if (config?["add_bos_token"] is JsonValue v) return v.GetValue<bool>();
        if (bosText is null) return false;
        static IEnumerable<JsonNode?> Processors(JsonNode? p) =>
            (string?)p?["type"] == "Sequence" ? (p!["processors"] as JsonArray ?? []) : [p];
        return Processors(json["post_processor"]).Any(p =>
            (string?)p?["type"] == "TemplateProcessing" && p!["single"] is JsonArray single && single.Count > 0 &&
            (string?)single[0]?["SpecialToken"]?["id"] == bosText);
    }

    /// <summary>The Jinja chat template: tokenizer_config.json's "chat_template", else a chat_template.jinja beside the tokenizer.</summary>
    static string? ChatTemplate(JsonObject? config, string tokenizerJsonPath, string? tokenizerConfigPath)
    {
        switch (config?["chat_template"])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return v.GetValue<string>();
            case JsonArray named: // [{"name": "default", "template": "..."}, ...]
                return (string?)named.FirstOrDefault(t => (string?)t?["name"] == "default")?["template"]
                    ?? throw new R1Error($"{tokenizerConfigPath}: chat_template list has no \"default\" template");
        }
        string jinja = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "chat_template.jinja");
        return File.Exists(jinja) ? File.ReadAllText(jinja) : null;
    }

    static JsonObject ParseObject(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: file not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new R1Error($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: invalid JSON: {e.Message}");
        }
    }
}
