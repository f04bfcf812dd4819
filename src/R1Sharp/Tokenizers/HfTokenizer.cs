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
    /// <summary>Pieces longer than this are not cached: real words are short, and a long piece is most likely unique
    /// (random or hostile text), where caching it would only hold memory.</summary>
    public const int MaxCachedPieceLength = 64;

    /// <summary>The piece cache stops growing at about this size (<see cref="PieceCacheBytes"/>).</summary>
    public const long MaxPieceCacheBytes = 16 << 20;

    // What one cache entry costs besides its characters and ids: the key string's and the id array's headers and the
    // dictionary's node and bucket.
    const int CacheEntryOverheadBytes = 104;

    readonly BpeTokenizer bpe;
    readonly SplitPreTokenizer preTokenizer;
    readonly AddedTokenMatcher rawTextTokens;
    readonly AddedTokenMatcher normalizedTextTokens;
    readonly AddedTokenMatcher markupTokens;
    readonly Dictionary<int, AddedToken> addedById;
    readonly Dictionary<string, int> addedByContent;
    // Most pieces (words) repeat, so we keep their ids; keyed by the piece text.
    readonly ConcurrentDictionary<string, int[]> pieceIds = new();
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> pieceIdsBySpan;
    long pieceCacheBytes;
    readonly int longestVocabTokenBytes;
    readonly int longestAddedTokenBytes;

    public TokenizerJson Definition { get; }
    public TokenizerConfig? Config { get; }
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    /// <summary>Estimated memory held by the cache of encoded pieces; at most about <see cref="MaxPieceCacheBytes"/>.</summary>
    public long PieceCacheBytes => Interlocked.Read(ref pieceCacheBytes);

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
        // A template's markup is already in NFC, so "normalized" tokens are found in it as written.
        markupTokens = definition.NfcNormalizer ? new AddedTokenMatcher(definition.AddedTokens) : rawTextTokens;
        addedById = definition.AddedTokens.ToDictionary(t => t.Id);
        addedByContent = new Dictionary<string, int>();
        foreach (AddedToken t in definition.AddedTokens) addedByContent.TryAdd(t.Content, t.Id);

        VocabSize = Math.Max(definition.Vocab.Values.Max(), addedById.Keys.DefaultIfEmpty(-1).Max()) + 1;
        // UTF-8 lengths of the byte-level forms over-count (a byte's character may take two), which keeps the bound safe.
        // Added tokens some files list in the vocabulary too are matched as added tokens only.
        longestVocabTokenBytes = definition.Vocab.Where(kv => !addedById.ContainsKey(kv.Value))
            .Select(kv => Encoding.UTF8.GetByteCount(kv.Key)).DefaultIfEmpty(1).Max();
        longestAddedTokenBytes = definition.AddedTokens.Select(t => Encoding.UTF8.GetByteCount(t.Content)).DefaultIfEmpty(0).Max();
        BosId = ConfiguredId(config?.BosToken, "bos_token");
        EosId = ConfiguredId(config?.EosToken, "eos_token");
        PadId = ConfiguredId(config?.PadToken, "pad_token");
    }

    /// <summary>
    /// The most UTF-8 bytes of input one token can stand for: the longest vocabulary entry, or added token when they
    /// can be matched (<paramref name="withAddedTokens"/>); three times that when NFC runs first, as it can merge
    /// three characters into one (Hangul jamo). A text of more than N times this many bytes cannot encode to N tokens,
    /// which lets a caller refuse it without encoding it.
    /// </summary>
    public int MaxInputBytesPerToken(bool withAddedTokens) =>
        (withAddedTokens ? Math.Max(longestVocabTokenBytes, longestAddedTokenBytes) : longestVocabTokenBytes) * (Definition.NfcNormalizer ? 3 : 1);

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

    public IReadOnlyList<int> Encode(ChatPrompt prompt)
    {
        // Lone surrogates become U+FFFD one for one, so the content ranges still hold.
        string text = ReplaceLoneSurrogates(prompt.Text);
        var ids = new List<int>(text.Length / 3 + 4);
        var pieces = new List<(int Start, int Length)>();
        // Text between two added tokens is pre-tokenized as one stretch, markup and contents together, as it is when
        // the whole prompt goes through Encode(string): so the ids differ only where a content holds a token's text.
        var plain = new StringBuilder();
        int at = 0;
        foreach ((int start, int length) in prompt.ContentSpans())
        {
            EncodeMarkup(at, start);
            plain.Append(text, start, length);
            at = start + length;
        }
        EncodeMarkup(at, text.Length);
        Flush();
        return ids;

        void EncodeMarkup(int start, int end)
        {
            foreach (AddedTokenMatcher.Segment segment in markupTokens.Split(text, start, end))
            {
                if (segment.Token is null)
                {
                    plain.Append(text, segment.Start, segment.Length);
                    continue;
                }
                Flush();
                ids.Add(segment.Token.Id);
            }
        }

        void Flush()
        {
            if (plain.Length == 0) return;
            string stretch = plain.ToString();
            plain.Clear();
            EncodePlain(Definition.NfcNormalizer ? UnicodeNfc.Normalize(stretch) : stretch, ids, pieces);
        }
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
                // Threads racing past the size check overshoot it by an entry each, which is fine for a bound on memory.
                if (piece.Length <= MaxCachedPieceLength && Interlocked.Read(ref pieceCacheBytes) < MaxPieceCacheBytes
                    && pieceIdsBySpan.TryAdd(piece, pieceIds))
                    Interlocked.Add(ref pieceCacheBytes, CacheEntryOverheadBytes + 2L * piece.Length + 4L * pieceIds.Length);
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
