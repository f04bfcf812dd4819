using R1Sharp.Generation;
using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>
/// One sample's tokens turned into reasoning and answer deltas: token ids → text cut at the first stop string
/// (<see cref="TextStream"/>) → split where the reasoning ends (<see cref="StreamingReasoningParser"/>). Also counts the
/// tokens spent reasoning.
/// </summary>
public sealed class CompletionDecoder(ITextTokenizer tokenizer, bool thinkOpenedByTemplate, IReadOnlyList<string> stopStrings)
{
    readonly TextStream text = new(tokenizer, stopStrings);
    readonly StreamingReasoningParser parser = new(thinkOpenedByTemplate);
    int tokensBeforeAnswer;
    bool reasoned;

    public int Tokens { get; private set; }
    /// <summary>Tokens up to the end of the reasoning (all of them while it never closed); 0 if the sample did not reason.</summary>
    public int ReasoningTokens => reasoned ? tokensBeforeAnswer : 0;
    /// <summary>A stop string appeared: the sample ends here.</summary>
    public bool Stopped => text.Stopped;

    public (string Reasoning, string Content) Add(int tokenId)
    {
        Tokens++;
        if (parser.Current != StreamingReasoningParser.Part.Content) tokensBeforeAnswer++;
        return Split(text.Add(tokenId));
    }

    /// <summary>Releases the text held back once the sample has ended.</summary>
    public (string Reasoning, string Content) Finish()
    {
        var (reasoning, content) = Split(text.Finish());
        var (r, c) = parser.Finish();
        return (reasoning + r, content + c);
    }

    (string, string) Split(string delta)
    {
        var split = parser.Push(delta);
        if (parser.Current == StreamingReasoningParser.Part.Reasoning || split.ReasoningDelta.Length > 0) reasoned = true;
        return split;
    }
}
