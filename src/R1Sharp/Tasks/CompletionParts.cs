using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks;

/// <summary>
/// A completion split into its reasoning (inside &lt;think&gt;…&lt;/think&gt;) and its final answer (after the first
/// &lt;/think&gt;: <see cref="ReasoningParser.ReasoningEnd"/>, the rule the server's stream uses too, up to a think block
/// opened again). Graders read only the answer, so a right answer written only in the reasoning never scores.
/// </summary>
/// <param name="Reasoning">Text inside the think block ("" if there is none).</param>
/// <param name="Answer">Text after the think block; the whole completion when it has no think tags at all.</param>
/// <param name="WellFormed">Exactly one think block, opened at the start, closed once, with non-empty reasoning and a non-empty answer after it.</param>
public sealed record CompletionParts(string Reasoning, string Answer, bool WellFormed)
{
    /// <param name="templateOpenedThink">
    /// The chat template already wrote "&lt;think&gt;" before generation started (as DeepSeek-R1's does), so a
    /// well-formed completion contains only the closing tag.
    /// </param>
    public static CompletionParts Parse(string completion, bool templateOpenedThink = false)
    {
        const string open = ChatTokens.ThinkStart, close = ChatTokens.ThinkEnd;
        int opens = Count(completion, open), closes = Count(completion, close);
        int end = ReasoningParser.ReasoningEnd(completion);
        string answer = end >= 0 ? completion[(end + close.Length)..] : opens > 0 || templateOpenedThink ? "" : completion;
        // A think block opened again after the close is reasoning too: an answer hidden in it does not score.
        int reopened = answer.IndexOf(open, StringComparison.Ordinal);
        if (end >= 0 && reopened >= 0) answer = answer[..reopened];

        int firstOpen = completion.IndexOf(open, StringComparison.Ordinal);
        int reasoningStart = templateOpenedThink ? 0 : firstOpen < 0 ? -1 : firstOpen + open.Length;
        int reasoningEnd = end >= 0 ? end : completion.Length;
        string reasoning = reasoningStart < 0 || reasoningEnd < reasoningStart ? "" : completion[reasoningStart..reasoningEnd];

        bool wellFormed = closes == 1 && !string.IsNullOrWhiteSpace(reasoning) && !string.IsNullOrWhiteSpace(answer)
            && (templateOpenedThink
                ? opens == 0
                : opens == 1 && completion.AsSpan(0, firstOpen).IsWhiteSpace() && firstOpen < end);
        return new CompletionParts(reasoning, answer.Trim(), wellFormed);
    }

    static int Count(string text, string tag)
    {
        int count = 0;
        for (int i = text.IndexOf(tag, StringComparison.Ordinal); i >= 0; i = text.IndexOf(tag, i + tag.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
