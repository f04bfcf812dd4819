using R1Sharp.Tokenizers;

namespace R1Sharp.Generation;

/// <summary>
/// Turns a stream of token ids into text deltas. A character can span tokens (a byte-level token may hold half of a
/// UTF-8 sequence), so each delta decodes a short window of recent tokens and is held back while it ends in a
/// replacement character; the deltas joined equal decoding all ids at once. Special tokens (BOS, EOS, padding) are
/// skipped; "&lt;think&gt;" and "&lt;/think&gt;" are not special and come through as text.
/// </summary>
public sealed class IncrementalDetokenizer(ITextTokenizer tokenizer)
{
    readonly List<int> ids = [];
    // ids[prefixStart..readStart) were already emitted; they give the window's context for the next decode.
    int prefixStart, readStart;

    public string Add(int id)
    {
        ids.Add(id);
        string prefix = Decode(prefixStart, readStart);
        string full = Decode(prefixStart, ids.Count);
        if (full.Length <= prefix.Length || full.EndsWith('\uFFFD')) return "";
        prefixStart = readStart;
        readStart = ids.Count;
        return full[prefix.Length..];
    }

    /// <summary>What is still held back, decoded as it is (an unfinished character becomes U+FFFD).</summary>
    public string Flush()
    {
        string prefix = Decode(prefixStart, readStart);
        string full = Decode(prefixStart, ids.Count);
        prefixStart = readStart = ids.Count;
        return full.Length > prefix.Length ? full[prefix.Length..] : "";
    }

    string Decode(int from, int to) => from == to ? "" : tokenizer.Decode(ids.Skip(from).Take(to - from), skipSpecialTokens: true);
}

/// <summary>
/// One sample's text as it is generated: token ids → text deltas (<see cref="IncrementalDetokenizer"/>) cut at the first
/// stop string, which is dropped as OpenAI does; text that could still become a stop string is held back. A sample
/// ends at the token after which its text (special tokens skipped) first contains a stop string — the one rule for
/// stop strings, offline (<see cref="GenerationEngine"/>) and in the server.
/// </summary>
public sealed class TextStream(ITextTokenizer tokenizer, IReadOnlyList<string> stopStrings)
{
    readonly IncrementalDetokenizer detokenizer = new(tokenizer);
    string held = "";

    /// <summary>The stop string that ended the text, or null.</summary>
    public string? MatchedStop { get; private set; }
    public bool Stopped => MatchedStop is not null;

    /// <summary>The text this token adds that is safe to show.</summary>
    public string Add(int tokenId) => Stopped ? "" : CutAtStop(held + detokenizer.Add(tokenId), final: false);

    /// <summary>Releases the text held back once the sample has ended.</summary>
    public string Finish() => Stopped ? "" : CutAtStop(held + detokenizer.Flush(), final: true);

    /// <summary>The text up to a stop string, and short of a possible stop string's start.</summary>
    string CutAtStop(string text, bool final)
    {
        held = "";
        int stop = -1;
        foreach (string s in stopStrings)
        {
            int at = s.Length == 0 ? -1 : text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (stop < 0 || at < stop))
            {
                stop = at;
                MatchedStop = s;
            }
        }
        if (stop >= 0) return text[..stop];
        if (final) return text;
        int keep = 0;
        foreach (string s in stopStrings) keep = Math.Max(keep, PartialMatchLength(text, s));
        held = text[^keep..];
        return text[..^keep];
    }

    /// <summary>Length of the longest end of <paramref name="text"/> that is a proper start of <paramref name="stop"/>.</summary>
    static int PartialMatchLength(string text, string stop)
    {
        for (int n = Math.Min(text.Length, stop.Length - 1); n > 0; n--)
            if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n))) return n;
        return 0;
    }
}
