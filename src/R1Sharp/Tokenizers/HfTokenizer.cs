using System.Collections.Concurrent;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace R1Sharp.Tokenizers;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer.json (DeepSeek-V3/R1, Qwen2.5/3, Llama-3), giving the same ids as
/// Hugging Face. Encoding runs: added tokens cut out of the raw text (leftmost-longest) → NFC on the rest if the file
/// asks for it (then added tokens marked "normalized" are cut out) → the pre-tokenizer regexes → byte-level BPE on
/// each piece. Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> does the merging and the byte-level decoding; the
/// steps before it are ours because the library's regex pre-tokenizer misses astral characters and it has no NFC.
/// </summary>
public sealed class HfTokenizer : ITextTokenizer
{
    const int MaxCachedPieces = 100_000;

    readonly BpeTokenizer bpe;
    readonly SplitPreTokenizer preTokenizer;
    readonly AddedTokenMatcher rawTextTokens;
    readonly AddedTokenMatcher normalizedTextTokens;
    readonly Dictionary<int, AddedToken> addedById;
    readonly Dictionary<string, int> addedByContent;
    // Most pieces (words) repeat, so we keep their ids; keyed by the piece text.
    readonly ConcurrentDictionary<string, int[]> pieceIds = new();
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> pieceIdsBySpan;
    int cachedPieces;

    public TokenizerJson Definition { get; }
    public TokenizerConfig? Config { get; }
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    public HfTokenizer(TokenizerJson definition, TokenizerConfig? config = null)
    {
        Definition = definition;
        Config = config;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(definition.Vocab)
            {
                Merges = definition.Merges.Select(m => $"{m.Left} {m.Right}"),
                ByteLevel = true,
            });
        }
        catch (InvalidOperationException e)
        {
            throw new R1Error($"tokenizer model is inconsistent: {e.Message}", e);
        }
        try
        {
            preTokenizer = new SplitPreTokenizer(definition.SplitPatterns);
        }
        catch (ArgumentException e)
        {
            throw new R1Error($"pre_tokenizer regex is not supported by .NET: {e.Message}", e);
        }
        pieceIdsBySpan = pieceIds.GetAlternateLookup<ReadOnlySpan<char>>();

        // Without a normaliser, "normalized" tokens are matched on the raw text like the others.
        rawTextTokens = new AddedTokenMatcher(definition.AddedTokens.Where(t => !t.Normalized || !definition.NfcNormalizer));
        normalizedTextTokens = new AddedTokenMatcher(definition.AddedTokens.Where(t => t.Normalized && definition.NfcNormalizer));
        addedById = definition.AddedTokens.ToDictionary(t => t.Id);
        addedByContent = new Dictionary<string, int>();
        foreach (AddedToken t in definition.AddedTokens) addedByContent.TryAdd(t.Content, t.Id);

        VocabSize = Math.Max(definition.Vocab.Values.Max(), addedById.Keys.DefaultIfEmpty(-1).Max()) + 1;
        BosId = ConfiguredId(config?.BosToken, "bos_token");
        EosId = ConfiguredId(config?.EosToken, "eos_token");
        PadId = ConfiguredId(config?.PadToken, "pad_token");
    }

    /// <summary>Loads tokenizer.json and, if given, tokenizer_config.json; errors name the file.</summary>
    public static HfTokenizer Load(string tokenizerJsonPath, string? configPath = null)
    {
        TokenizerJson definition = TokenizerJson.Load(tokenizerJsonPath);
        TokenizerConfig? config = configPath is null ? null : TokenizerConfig.Load(configPath);
        try
        {
            return new HfTokenizer(definition, config);
        }
        catch (R1Error e)
        {
            throw new R1Error($"{tokenizerJsonPath}: {e.Message}", e);
        }
    }

    int? ConfiguredId(string? token, string field) => token is null ? null
        : TokenToId(token) ?? throw new R1Error($"tokenizer_config.json {field} '{token}' is not a token of tokenizer.json");

    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out int id) ? id
        : Definition.Vocab.TryGetValue(ByteLevelAlphabet.Encode(token), out id) ? id
        : null;

    public IReadOnlyList<int> Encode(string text)
    {
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 3 + 4);
        var pieces = new List<(int Start, int Length)>();
        foreach (AddedTokenMatcher.Segment segment in rawTextTokens.Split(text))
        {
            if (segment.Token is not null)
            {
                ids.Add(segment.Token.Id);
                continue;
            }
            string plain = text.Substring(segment.Start, segment.Length);
            if (!Definition.NfcNormalizer)
            {
                EncodePlain(plain, ids, pieces);
                continue;
            }
            string normalized = UnicodeNfc.Normalize(plain);
            foreach (AddedTokenMatcher.Segment inner in normalizedTextTokens.Split(normalized))
            {
                if (inner.Token is not null) ids.Add(inner.Token.Id);
                else EncodePlain(normalized.Substring(inner.Start, inner.Length), ids, pieces);
            }
        }
        return ids;
    }

    void EncodePlain(string text, List<int> ids, List<(int Start, int Length)> pieces)
    {
        pieces.Clear();
        preTokenizer.Split(text, pieces);
        foreach ((int start, int length) in pieces)
        {
            ReadOnlySpan<char> piece = text.AsSpan(start, length);
            if (!pieceIdsBySpan.TryGetValue(piece, out int[]? pieceIds))
            {
                pieceIds = EncodePiece(piece);
                // A counter, not pieceIds.Count, which would take every lock of the dictionary.
                if (cachedPieces < MaxCachedPieces && pieceIdsBySpan.TryAdd(piece, pieceIds)) Interlocked.Increment(ref cachedPieces);
            }
            ids.AddRange(pieceIds);
        }
    }

    int[] EncodePiece(ReadOnlySpan<char> piece)
    {
        if (Definition.IgnoreMerges && Definition.Vocab.TryGetValue(ByteLevelAlphabet.Encode(piece.ToString()), out int whole))
            return [whole];
        return bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false).ToArray();
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        // Runs of ordinary tokens are decoded together (their bytes may split a character); added tokens are text.
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (!addedById.TryGetValue(id, out AddedToken? added))
            {
                run.Add(id);
                continue;
            }
            if (skipSpecialTokens && added.Special) continue;
            FlushRun();
            text.Append(added.Content);
        }
        FlushRun();
        return Config?.CleanUpTokenizationSpaces == true ? CleanUpTokenizationSpaces(text.ToString()) : text.ToString();

        void FlushRun()
        {
            if (run.Count == 0) return;
            text.Append(bpe.Decode(run, considerSpecialTokens: false)); // ids outside the vocabulary are skipped, as in HF
            run.Clear();
        }
    }

    /// <summary>transformers' clean_up_tokenization, in its order.</summary>
    static string CleanUpTokenizationSpaces(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    /// <summary>Hugging Face sees text as UTF-8, where an unpaired surrogate can only be U+FFFD.</summary>
    static string ReplaceLoneSurrogates(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0) return text;
        char[] chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}
