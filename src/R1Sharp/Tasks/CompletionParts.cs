namespace R1Sharp.Tasks;

/// <summary>
/// A completion split into its reasoning (inside &lt;think&gt;…&lt;/think&gt;) and its final answer (after
/// &lt;/think&gt;). Graders read only the answer, so a right answer written only in the reasoning never scores.
/// </summary>
/// <param name="Reasoning">Text inside the think block ("" if there is none).</param>
/// <param name="Answer">Text after the think block; the whole completion when it has no think tags at all.</param>
/// <param name="WellFormed">Exactly one think block, opened at the start, closed once, with non-empty reasoning and a non-empty answer after it.</param>
public sealed record CompletionParts(string Reasoning, string Answer, bool WellFormed)
{
    public const string ThinkOpen = "<think>", ThinkClose = "</think>";

    /// <param name="templateOpenedThink">
    /// The chat template already wrote "&lt;think&gt;" before generation started (as DeepSeek-R1's does), so a
    /// well-formed completion contains only the closing tag.
    /// </param>
    public static CompletionParts Parse(string completion, bool templateOpenedThink = false)
    {
        int opens = Count(completion, ThinkOpen), closes = Count(completion, ThinkClose);
        int lastClose = completion.LastIndexOf(ThinkClose, StringComparison.Ordinal);
        string answer;
        if (lastClose >= 0)
        {
            answer = completion[(lastClose + ThinkClose.Length)..];
            // A think block reopened after the last close and never closed is still reasoning.
            int reopened = answer.IndexOf(ThinkOpen, StringComparison.Ordinal);
            if (reopened >= 0) answer = answer[..reopened];
        }
        else answer = opens > 0 || templateOpenedThink ? "" : completion;

        int firstOpen = completion.IndexOf(ThinkOpen, StringComparison.Ordinal);
        int reasoningStart = templateOpenedThink ? 0 : firstOpen < 0 ? -1 : firstOpen + ThinkOpen.Length;
        int reasoningEnd = lastClose >= 0 ? lastClose : completion.Length;
        string reasoning = reasoningStart < 0 || reasoningEnd < reasoningStart ? "" : completion[reasoningStart..reasoningEnd];

        bool wellFormed = closes == 1 && !string.IsNullOrWhiteSpace(reasoning) && !string.IsNullOrWhiteSpace(answer)
            && (templateOpenedThink
                ? opens == 0
                : opens == 1 && completion.AsSpan(0, firstOpen).IsWhiteSpace() && firstOpen < lastClose);
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
