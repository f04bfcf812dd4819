using R1Sharp.Tokenizers;

namespace R1Sharp.Gguf;

/// <summary>
/// The tokenizer a GGUF file carries (llama.cpp's <c>tokenizer.*</c> keys, gpt2-style byte-level BPE), rebuilt as the
/// Hugging Face tokenizer it came from: normal tokens form the BPE vocabulary with the merges, control and
/// user-defined tokens (types 3 and 4) become added tokens (special when control), unused padding tokens are left out,
/// <c>tokenizer.ggml.pre</c> names the pre-tokenizer's split regexes, and the BOS/EOS/padding ids, add_bos_token and
/// <c>tokenizer.chat_template</c> become its tokenizer_config. Files R1Sharp wrote also say whether text is
/// NFC-normalised, merges are skipped for whole-vocabulary pieces and decoding cleans up spaces; others get their
/// family's setting (Qwen's tokenizers normalise, Llama-3's skip merges, none cleans up, as llama.cpp).
/// </summary>
public static class GgufTokenizer
{
    public static HfTokenizer Load(GgufFile file)
    {
        string src = file.Path;
        string model = file.Find("tokenizer.ggml.model")?.AsString() ?? throw new R1Error($"{src}: no tokenizer (tokenizer.ggml.model is missing)");
        if (model != "gpt2") throw new R1Error($"{src}: tokenizer.ggml.model '{model}' is not supported (only gpt2-style byte-level BPE)");
        string pre = file.Find("tokenizer.ggml.pre")?.AsString() ?? "default";
        var regexes = GgufTokenizerMetadata.SplitRegexes(pre)
            ?? throw new R1Error($"{src}: tokenizer.ggml.pre '{pre}' is not a pre-tokenizer R1Sharp knows (qwen2, deepseek-r1-qwen, llama-bpe, llama3, deepseek-v3, gpt-2)");
        var tokens = Strings(file, "tokenizer.ggml.tokens");
        var types = file.Find("tokenizer.ggml.token_type") is { } typeValue
            ? (typeValue.Value as int[] ?? throw new R1Error($"{src}: tokenizer.ggml.token_type must be an int32 array"))
            : Enumerable.Repeat(GgufTokenizerMetadata.Normal, tokens.Length).ToArray();
        if (types.Length != tokens.Length)
            throw new R1Error($"{src}: tokenizer.ggml.token_type has {types.Length} entries but tokenizer.ggml.tokens has {tokens.Length}");

        var vocab = new Dictionary<string, int>(tokens.Length);
        var added = new List<AddedToken>();
        for (int id = 0; id < tokens.Length; id++)
        {
            switch (types[id])
            {
                case GgufTokenizerMetadata.Unused:
                    continue;
                case GgufTokenizerMetadata.Control or GgufTokenizerMetadata.UserDefined or 2: // 2: unknown
                    added.Add(new AddedToken(id, tokens[id], Special: types[id] != GgufTokenizerMetadata.UserDefined));
                    break;
                default:
                    if (!vocab.TryAdd(tokens[id], id)) throw new R1Error($"{src}: token '{tokens[id]}' appears at ids {vocab[tokens[id]]} and {id}");
                    break;
            }
        }
        var merges = Strings(file, "tokenizer.ggml.merges").Select(m => m.Split(' ') is [var left, var right]
            ? (left, right)
            : throw new R1Error($"{src}: merge '{m}' is not two tokens separated by one space")).ToList();

        bool nfc = file.Find(GgufTokenizerMetadata.NormalizerKey)?.AsString() is { } normalizer
            ? normalizer == "NFC"
            : pre is "qwen2" or "deepseek-r1-qwen";
        bool ignoreMerges = file.Find(GgufTokenizerMetadata.IgnoreMergesKey)?.Value as bool? ?? pre is "llama-bpe" or "llama3" or "llama-v3";
        var definition = new TokenizerJson
        {
            Vocab = vocab, Merges = merges, AddedTokens = added, NfcNormalizer = nfc, SplitPatterns = regexes, IgnoreMerges = ignoreMerges,
        };
        string? Token(string key)
        {
            if (file.Find(key) is not { } value) return null;
            long id = value.AsInteger();
            if (id < 0 || id >= tokens.Length) throw new R1Error($"{src}: {key} = {id} is outside the {tokens.Length} tokens");
            return tokens[id];
        }
        var config = new TokenizerConfig
        {
            BosToken = Token("tokenizer.ggml.bos_token_id"),
            EosToken = Token("tokenizer.ggml.eos_token_id"),
            PadToken = Token("tokenizer.ggml.padding_token_id"),
            AddBosToken = file.Find("tokenizer.ggml.add_bos_token")?.Value as bool? ?? false,
            CleanUpTokenizationSpaces = file.Find(GgufTokenizerMetadata.CleanUpSpacesKey)?.Value as bool? ?? false,
            ChatTemplateText = file.Find("tokenizer.chat_template")?.AsString(),
        };
        try
        {
            return new HfTokenizer(definition, config);
        }
        catch (R1Error e)
        {
            throw new R1Error($"{src}: {e.Message}", e);
        }
    }

    static string[] Strings(GgufFile file, string key) =>
        file.Find(key) is { Value: string[] values } ? values : throw new R1Error($"{file.Path}: {key} must be an array of strings");
}
