using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Trains a byte-level BPE tokenizer (GPT-2's algorithm) for our own small models. Text is cut with Qwen's
/// pre-tokenizer regex (digits one by one, which helps arithmetic); chat special tokens in the corpus are kept out of
/// training. Ids: 256 bytes, then <see cref="ChatTokens.OwnSpecialTokens"/>, then one token per merge in the order
/// learned — with no merges it is exactly <see cref="ByteTokenizer"/>.
/// </summary>
public static class BpeTrainer
{
    public static int BaseVocabSize => 256 + ChatTokens.OwnSpecialTokens.Count;

    /// <param name="texts">The corpus.</param>
    /// <param name="vocabSize">Total ids wanted; training stops earlier when no pair occurs <paramref name="minPairCount"/> times.</param>
    /// <param name="minPairCount">A pair seen fewer times is not worth a token (default 2: never merge a one-off).</param>
    public static TokenizerJson Train(IEnumerable<string> texts, int vocabSize, int minPairCount = 2)
    {
        if (vocabSize < BaseVocabSize)
            throw new R1Error($"vocab size {vocabSize} is too small: the 256 bytes and {ChatTokens.OwnSpecialTokens.Count} special tokens need {BaseVocabSize}");

        // Words as symbol sequences (initially their bytes) with their counts, in a fixed order for determinism.
        var words = CountPieces(texts).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value))
            .ToArray();

        var tokenText = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ByteToChar[b].ToString()).ToList();
        tokenText.AddRange(ChatTokens.OwnSpecialTokens);
        var tokenIds = tokenText.Select((t, id) => (t, id)).ToDictionary(x => x.t, x => x.id);

        var touched = new HashSet<(int, int)>();
        var pairCounts = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Length; w++) AddPairs(w, +1);

        // Most frequent pair first; ties go to the pair of older (smaller) ids. Stale entries are skipped when popped.
        var queue = new PriorityQueue<(int, int), (long Count, int Left, int Right)>(
            Comparer<(long Count, int Left, int Right)>.Create((x, y) =>
                x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Left != y.Left ? x.Left.CompareTo(y.Left) : x.Right.CompareTo(y.Right)));
        foreach (var (pair, count) in pairCounts) queue.Enqueue(pair, (count, pair.Item1, pair.Item2));

        var merges = new List<(string Left, string Right)>();
        while (tokenText.Count < vocabSize && queue.TryDequeue(out var pair, out var priority))
        {
            if (!pairCounts.TryGetValue(pair, out long count) || count != priority.Count) continue;
            if (count < minPairCount) break;

            // Two pairs can spell the same token ("ab"+"c", "a"+"bc"); like HF, both merges then make that one id.
            string text = tokenText[pair.Item1] + tokenText[pair.Item2];
            if (!tokenIds.TryGetValue(text, out int merged))
            {
                tokenIds[text] = merged = tokenText.Count;
                tokenText.Add(text);
            }
            merges.Add((tokenText[pair.Item1], tokenText[pair.Item2]));

            touched.Clear();
            foreach (int w in pairWords[pair].ToArray())
            {
                AddPairs(w, -1);
                words[w].Symbols = Merge(words[w].Symbols, pair, merged);
                AddPairs(w, +1);
            }
            foreach (var p in touched)
                if (pairCounts.TryGetValue(p, out long c) && c > 0) queue.Enqueue(p, (c, p.Item1, p.Item2));
        }
        return BuildTokenizerJson(merges);

        void AddPairs(int w, int sign)
        {
            var (symbols, count) = words[w];
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                var p = (symbols[i], symbols[i + 1]);
                long c = pairCounts.GetValueOrDefault(p) + sign * count;
                if (c == 0) pairCounts.Remove(p); else pairCounts[p] = c;
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(p, out var set)) pairWords[p] = set = new HashSet<int>();
                    set.Add(w);
                }
                else if (c == 0) pairWords.Remove(p);
                touched.Add(p);
            }
        }
    }

    static Dictionary<string, long> CountPieces(IEnumerable<string> texts)
    {
        var specials = new AddedTokenMatcher(ChatTokens.OwnSpecialTokens.Select((t, i) => new AddedToken(i, t, false)));
        var preTokenizer = new SplitPreTokenizer([SplitPreTokenizer.QwenPattern]);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var pieces = new List<(int Start, int Length)>();
        foreach (string text in texts)
            foreach (var segment in specials.Split(text))
            {
                if (segment.Token is not null) continue;
                string plain = text.Substring(segment.Start, segment.Length);
                pieces.Clear();
                preTokenizer.Split(plain, pieces);
                foreach (var (start, length) in pieces)
                {
                    string piece = plain.Substring(start, length);
                    counts[piece] = counts.GetValueOrDefault(piece) + 1;
                }
            }
        return counts;
    }

    static List<int> Merge(List<int> symbols, (int Left, int Right) pair, int merged)
    {
        var result = new List<int>(symbols.Count);
        for (int i = 0; i < symbols.Count; i++)
        {
            if (i + 1 < symbols.Count && symbols[i] == pair.Left && symbols[i + 1] == pair.Right)
            {
                result.Add(merged);
                i++;
            }
            else result.Add(symbols[i]);
        }
        return result;
    }

    /// <summary>Our tokenizer.json layout (see the class summary) for the given merges, in order.</summary>
    public static TokenizerJson BuildTokenizerJson(IReadOnlyList<(string Left, string Right)> merges)
    {
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[ByteLevelAlphabet.ByteToChar[b].ToString()] = b;
        var added = ChatTokens.OwnSpecialTokens.Select((t, i) => new AddedToken(256 + i, t, ChatTokens.IsSpecial(t))).ToList();
        foreach (AddedToken t in added) vocab[t.Content] = t.Id;
        foreach (var (left, right) in merges) vocab.TryAdd(left + right, vocab.Count);
        return new TokenizerJson
        {
            Vocab = vocab,
            Merges = merges,
            AddedTokens = added,
            SplitPatterns = [SplitPreTokenizer.QwenPattern],
        };
    }
}
