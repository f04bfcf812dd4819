using System.Text.Json.Nodes;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// A minimal byte-level BPE tokenizer.json (GPT-2 byte-to-unicode alphabet, a few merges, special tokens) and
/// tokenizer_config.json, for exporting tiny test models.
/// </summary>
public static class TestTokenizerFiles
{
    public const string Bos = "<|begin_of_text|>", Eos = "<|end_of_text|>", ThinkOpen = "<think>", ThinkClose = "</think>";
    public const int BosId = 261, EosId = 262, ThinkOpenId = 263, ThinkCloseId = 264;
    /// <summary>Ids the tokenizer defines; the tiny models' vocab is larger and the rest become padding.</summary>
    public const int TokenCount = 265;
    public const string ChatTemplate = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>";
    public static readonly string[] Merges = ["Ġ t", "h e", "Ġt he", "i n", "e r"];

    /// <summary>The split regex of Qwen2's tokenizer.json, which llama.cpp knows as pre-tokenizer "qwen2".</summary>
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's printable stand-in for each byte (bytes.py bytes_to_unicode).</summary>
    public static string ByteToUnicode(int b)
    {
        static bool Printable(int x) => x is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
        if (Printable(b)) return ((char)b).ToString();
        int n = 0;
        for (int x = 0; x < b; x++) if (!Printable(x)) n++;
        return ((char)(256 + n)).ToString();
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="dir"/>; returns their paths.</summary>
    public static (string TokenizerJson, string TokenizerConfig) Write(string dir, string splitRegex = Qwen2Regex)
    {
        Directory.CreateDirectory(dir);
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteToUnicode(b)] = b;
        int next = 256;
        foreach (string merge in Merges) vocab[merge.Replace(" ", "")] = next++;
        var added = new JsonArray();
        foreach (var (content, id, special) in new[] { (Bos, BosId, true), (Eos, EosId, true), (ThinkOpen, ThinkOpenId, false), (ThinkClose, ThinkCloseId, false) })
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = special });
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = splitRegex }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(Merges.Select(m => (JsonNode)JsonValue.Create(m)!).ToArray()),
            },
        };
        var config = new JsonObject
        {
            ["bos_token"] = Bos, ["eos_token"] = Eos, ["pad_token"] = null, ["add_bos_token"] = true, ["add_eos_token"] = false,
            ["chat_template"] = ChatTemplate,
        };
        string tokenizerPath = Path.Combine(dir, "tokenizer.json"), configPath = Path.Combine(dir, "tokenizer_config.json");
        File.WriteAllText(tokenizerPath, tokenizer.ToJsonString());
        File.WriteAllText(configPath, config.ToJsonString());
        return (tokenizerPath, configPath);
    }
}
