using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

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
