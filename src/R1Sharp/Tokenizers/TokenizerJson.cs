using System.Text.Encodings.Web;
using System.Text.Json;

namespace R1Sharp.Tokenizers;

/// <summary>
/// What a Hugging Face tokenizer.json says about a byte-level BPE tokenizer (GPT-2, Llama-3, Qwen2/3, DeepSeek-V3/R1).
/// <see cref="Load"/> rejects, naming the field, every setting that would change the ids and that we do not implement,
/// so a file is either tokenized exactly as Hugging Face does or refused. The post-processor is not read: our
/// Encode never adds BOS/EOS by itself.
/// </summary>
public sealed record TokenizerJson
{
    /// <summary>Token (in <see cref="ByteLevelAlphabet"/> form) → id.</summary>
    public required IReadOnlyDictionary<string, int> Vocab { get; init; }

    /// <summary>Merge rules, highest priority first.</summary>
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }

    public IReadOnlyList<AddedToken> AddedTokens { get; init; } = [];

    /// <summary>True when the normaliser is NFC (Qwen); otherwise the text is not normalised.</summary>
    public bool NfcNormalizer { get; init; }

    /// <summary>Pre-tokenizer regexes, applied in order (see <see cref="SplitPreTokenizer"/>).</summary>
    public IReadOnlyList<string> SplitPatterns { get; init; } = [];

    /// <summary>A piece that is itself in the vocabulary becomes that token without merging (Llama-3).</summary>
    public bool IgnoreMerges { get; init; }

    public static TokenizerJson Load(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"tokenizer file not found: {path}");
        JsonDocument doc;
        try
        {
            using var stream = File.OpenRead(path);
            doc = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            try
            {
                return Parse(doc.RootElement);
            }
            catch (FormatException e)
            {
                throw new R1Error($"{path}: {e.Message}", e);
            }
            catch (InvalidOperationException e) // wrong JSON value kind
            {
                throw new R1Error($"{path}: unexpected JSON shape ({e.Message})", e);
            }
        }
    }

    static TokenizerJson Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("the top level must be a JSON object");
        JsonElement model = Required(root, "model");
        string modelType = Str(model, "type") ?? "BPE";
        if (modelType != "BPE") throw new FormatException($"model.type is '{modelType}'; only byte-level BPE is supported");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new FormatException("model.dropout is set; BPE dropout is a training-time option and is not supported");
        if (Flag(model, "byte_fallback")) throw new FormatException("model.byte_fallback is true; only byte-level BPE is supported");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (!string.IsNullOrEmpty(Str(model, affix)))
                throw new FormatException($"model.{affix} is '{Str(model, affix)}'; byte-level BPE does not use it");

        var vocab = new Dictionary<string, int>();
        var vocabById = new Dictionary<int, string>();
        foreach (JsonProperty entry in Required(model, "vocab").EnumerateObject())
        {
            int id = TokenId(entry.Value, $"model.vocab token {Show(entry.Name)}");
            if (!vocabById.TryAdd(id, entry.Name))
                throw new FormatException($"model.vocab gives id {id} to both {Show(vocabById[id])} and {Show(entry.Name)}");
            if (!vocab.TryAdd(entry.Name, id)) throw new FormatException($"model.vocab has token {Show(entry.Name)} twice");
        }
        for (int b = 0; b < 256; b++)
            if (!vocab.ContainsKey(ByteLevelAlphabet.ByteToChar[b].ToString()))
                throw new FormatException($"model.vocab has no token for byte 0x{b:X2} ('{ByteLevelAlphabet.ByteToChar[b]}'); not a byte-level BPE vocabulary");

        var merges = new List<(string, string)>();
        int index = 0;
        foreach (JsonElement merge in Required(model, "merges").EnumerateArray())
        {
            (string, string)? pair = merge.ValueKind switch
            {
                JsonValueKind.String when merge.GetString()!.Split(' ') is [var a, var b] => (a, b),
                JsonValueKind.Array when merge.GetArrayLength() == 2 => (merge[0].GetString()!, merge[1].GetString()!),
                _ => null,
            };
            merges.Add(pair ?? throw new FormatException($"model.merges[{index}] is {merge.GetRawText()}; expected \"left right\" or [\"left\", \"right\"]"));
            index++;
        }

        var added = new List<AddedToken>();
        var addedById = new Dictionary<int, string>();
        var addedByContent = new Dictionary<string, int>();
        if (root.TryGetProperty("added_tokens", out JsonElement addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
            foreach (JsonElement t in addedTokens.EnumerateArray())
            {
                string content = Str(t, "content") ?? throw new FormatException($"added_tokens entry {t.GetRawText()} has no content");
                foreach (string flag in new[] { "lstrip", "rstrip", "single_word" })
                    if (Flag(t, flag)) throw new FormatException($"added token '{content}' has {flag}: true, which is not supported");
                int id = TokenId(Required(t, "id"), $"added token {Show(content)}");
                if (!addedById.TryAdd(id, content))
                    throw new FormatException($"added_tokens gives id {id} to both {Show(addedById[id])} and {Show(content)}");
                if (!addedByContent.TryAdd(content, id))
                    throw new FormatException($"added_tokens has {Show(content)} twice, as ids {addedByContent[content]} and {id}");
                // A file may list an added token in the vocabulary too (DeepSeek's BOS), but only as the same token.
                if (vocabById.TryGetValue(id, out string? inVocab) && inVocab != content && inVocab != ByteLevelAlphabet.Encode(content))
                    throw new FormatException($"added token {Show(content)} has id {id}, which model.vocab gives to {Show(inVocab)}");
                added.Add(new AddedToken(id, content, Flag(t, "special"), Flag(t, "normalized")));
            }

        CheckDecoder(root.TryGetProperty("decoder", out JsonElement decoder) ? decoder : default);
        return new TokenizerJson
        {
            Vocab = vocab,
            Merges = merges,
            AddedTokens = added,
            NfcNormalizer = ParseNormalizer(root.TryGetProperty("normalizer", out var n) ? n : default),
            SplitPatterns = ParsePreTokenizer(Required(root, "pre_tokenizer")),
            IgnoreMerges = Flag(model, "ignore_merges"),
        };
    }

    static bool ParseNormalizer(JsonElement normalizer)
    {
        if (normalizer.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return false;
        string? type = Str(normalizer, "type");
        return type switch
        {
            "NFC" => true,
            "Sequence" => Required(normalizer, "normalizers").EnumerateArray().Select(ParseNormalizer).Aggregate(false, (a, b) => a | b),
            _ => throw new FormatException($"normalizer type '{type}' is not supported (supported: NFC)"),
        };
    }

    static List<string> ParsePreTokenizer(JsonElement preTokenizer)
    {
        List<JsonElement> steps = Str(preTokenizer, "type") == "Sequence"
            ? Required(preTokenizer, "pretokenizers").EnumerateArray().ToList()
            : [preTokenizer];
        var patterns = new List<string>();
        for (int i = 0; i < steps.Count; i++)
        {
            JsonElement step = steps[i];
            string? type = Str(step, "type");
            if (type == "Split")
            {
                string behavior = Str(step, "behavior") ?? "";
                if (behavior != "Isolated" || Flag(step, "invert"))
                    throw new FormatException($"pre_tokenizer Split with behavior '{behavior}' (invert {Flag(step, "invert")}) is not supported (supported: Isolated)");
                JsonElement pattern = Required(step, "pattern");
                patterns.Add(Str(pattern, "Regex") ?? System.Text.RegularExpressions.Regex.Escape(
                    Str(pattern, "String") ?? throw new FormatException($"pre_tokenizer Split pattern {pattern.GetRawText()} has neither Regex nor String")));
            }
            else if (type == "ByteLevel")
            {
                if (i != steps.Count - 1) throw new FormatException("pre_tokenizer ByteLevel must be the last step");
                if (Flag(step, "add_prefix_space")) throw new FormatException("pre_tokenizer ByteLevel add_prefix_space: true is not supported");
                if (!step.TryGetProperty("use_regex", out var useRegex) || useRegex.GetBoolean()) patterns.Add(SplitPreTokenizer.Gpt2Pattern);
                return patterns;
            }
            else throw new FormatException($"pre_tokenizer type '{type}' is not supported (supported: Split, ByteLevel)");
        }
        throw new FormatException("pre_tokenizer has no ByteLevel step; only byte-level BPE is supported");
    }

    /// <summary>Throws unless the decoder turns byte-level tokens back into text (ByteLevel, alone or in a Sequence).</summary>
    static bool CheckDecoder(JsonElement decoder)
    {
        if (decoder.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return true;
        string? type = Str(decoder, "type");
        if (type == "ByteLevel") return true;
        if (type == "Sequence" && Required(decoder, "decoders").EnumerateArray().All(CheckDecoder)) return true;
        throw new FormatException($"decoder type '{type}' is not supported (supported: ByteLevel)");
    }

    /// <summary>Largest token id accepted: 64 times the largest real vocabulary, and far from overflowing an int.</summary>
    public const int MaxTokenId = (1 << 24) - 1;

    static int TokenId(JsonElement value, string what) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int id) && id is >= 0 and <= MaxTokenId ? id
        : throw new FormatException($"{what} has id {Truncate(value.GetRawText())}; ids are integers from 0 to {MaxTokenId}");

    /// <summary>A token as it appears in an error: JSON-quoted (so control characters are escaped) and cut short.</summary>
    static string Show(string token) => Truncate(JsonSerializer.Serialize(token, ShowOptions));

    static readonly JsonSerializerOptions ShowOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Truncate(string text) => text.Length <= 80 ? text : text[..77] + "...";

    static JsonElement Required(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null
            ? v : throw new FormatException($"missing field '{name}'");

    static string? Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    static bool Flag(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.True;

    /// <summary>Writes a complete, standard tokenizer.json that Hugging Face tokenizers and transformers.js load.</summary>
    public void Save(string path) => AtomicFile.Write(path, temp =>
    {
        using var stream = File.Create(temp);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (AddedToken t in AddedTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("content", t.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", t.Normalized);
            w.WriteBoolean("special", t.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (NfcNormalizer)
        {
            w.WriteStartObject("normalizer");
            w.WriteString("type", "NFC");
            w.WriteEndObject();
        }
        else w.WriteNull("normalizer");
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        foreach (string pattern in SplitPatterns)
        {
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", pattern);
            w.WriteEndObject();
            w.WriteString("behavior", "Isolated");
            w.WriteBoolean("invert", false);
            w.WriteEndObject();
        }
        WriteByteLevel(w, null);
        w.WriteEndArray();
        w.WriteEndObject();
        WriteByteLevel(w, "post_processor");
        WriteByteLevel(w, "decoder");
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", IgnoreMerges);
        w.WriteStartObject("vocab");
        foreach ((string token, int id) in Vocab.OrderBy(kv => kv.Value)) w.WriteNumber(token, id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach ((string left, string right) in Merges) w.WriteStringValue($"{left} {right}");
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    });

    static void WriteByteLevel(Utf8JsonWriter w, string? propertyName)
    {
        if (propertyName is null) w.WriteStartObject(); else w.WriteStartObject(propertyName);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", false);
        w.WriteBoolean("use_regex", false);
        w.WriteEndObject();
    }
}
