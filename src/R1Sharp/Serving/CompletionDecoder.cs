using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>
/// One sample's tokens turned into reasoning and answer deltas: token ids → text (<see cref="IncrementalDetokenizer"/>)
/// → cut at the first stop string, which is dropped as OpenAI does (text that could still become one is held back)
/// → split at "&lt;/think&gt;" (<see cref="StreamingReasoningParser"/>). Also counts the tokens spent reasoning.
/// </summary>
public sealed class CompletionDecoder(ITextTokenizer tokenizer, bool thinkOpenedByTemplate, IReadOnlyList<string> stopStrings)
{
    readonly IncrementalDetokenizer detokenizer = new(tokenizer);
    readonly StreamingReasoningParser parser = new(thinkOpenedByTemplate);
    string held = "";
    int tokensBeforeAnswer;
    bool reasoned;

    public int Tokens { get; private set; }
    /// <summary>Tokens up to the end of the reasoning (all of them while it never closed); 0 if the sample did not reason.</summary>
    public int ReasoningTokens => reasoned ? tokensBeforeAnswer : 0;
    /// <summary>A stop string appeared: the sample ends here.</summary>
    public bool Stopped { get; private set; }

    public (string Reasoning, string Content) Add(int tokenId)
    {
        Tokens++;
        if (parser.Current != StreamingReasoningParser.Part.Content) tokensBeforeAnswer++;
        if (Stopped) return ("", "");
        return Split(CutAtStop(held + detokenizer.Add(tokenId)));
    }

    /// <summary>Releases the text held back once the sample has ended.</summary>
    public (string Reasoning, string Content) Finish()
    {
        string rest = Stopped ? "" : CutAtStop(held + detokenizer.Flush(), final: true);
        var (reasoning, content) = Split(rest);
        var (r, c) = parser.Finish();
        return (reasoning + r, content + c);
    }

    /// <summary>The text that is safe to show: up to a stop string, and short of a possible stop string's start.</summary>
    string CutAtStop(string text, bool final = false)
    {
        held = "";
        int stop = stopStrings.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (stop >= 0)
        {
            Stopped = true;
            return text[..stop];
        }
        if (final) return text;
        int keep = stopStrings.Select(s => PartialMatchLength(text, s)).DefaultIfEmpty(0).Max();
        held = text[^keep..];
        return text[..^keep];
    }

    (string, string) Split(string text)
    {
        var delta = parser.Push(text);
        if (parser.Current == StreamingReasoningParser.Part.Reasoning) reasoned = true;
        if (delta.ReasoningDelta.Length > 0) reasoned = true;
        return delta;
    }

    /// <summary>Length of the longest end of <paramref name="text"/> that is a proper start of <paramref name="stop"/>.</summary>
    static int PartialMatchLength(string text, string stop)
    {
        for (int n = Math.Min(text.Length, stop.Length - 1); n > 0; n--)
            if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n))) return n;
        return 0;
    }
}
