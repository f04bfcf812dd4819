namespace R1Sharp.Tokenizers;

/// <summary>
/// Splits a completion into its reasoning (inside &lt;think&gt;…&lt;/think&gt;) and its answer, as vLLM's deepseek_r1
/// parser does. The completion is reasoning from the start when the chat template opened "&lt;think&gt;" (R1), or when
/// it opens one itself (after optional whitespace; Qwen3); the reasoning runs to the first "&lt;/think&gt;"
/// (<see cref="ReasoningEnd"/>), or to the end if it never closes. Text is kept exactly: no whitespace is trimmed
/// around the tags.
/// <see cref="StreamingReasoningParser"/> gives the same split chunk by chunk.
/// </summary>
public static class ReasoningParser
{
    /// <returns>Reasoning: null when the completion does not reason. Content: null while the reasoning never closed.</returns>
    public static (string? Reasoning, string? Content) Split(string completion, bool thinkOpenedByTemplate)
    {
        int start = OpeningTagEnd(completion);
        if (start < 0 && !thinkOpenedByTemplate) return (null, completion);
        start = Math.Max(start, 0);
        int end = ReasoningEnd(completion, start);
        return end < 0
            ? (completion[start..], null)
            : (completion[start..end], completion[(end + ChatTokens.ThinkEnd.Length)..]);
    }

    /// <summary>
    /// Where the reasoning ends: the first "&lt;/think&gt;" at or after <paramref name="start"/>, or −1. This is the one
    /// rule for a completion with more than one "&lt;/think&gt;" — the server's stream (<see cref="StreamingReasoningParser"/>)
    /// and the graders (<c>Tasks.CompletionParts</c>) both use it: the first close ends the reasoning and everything
    /// after it, further tags included, is the answer. The first, not the last, because a stream cannot take back text it
    /// already sent as the answer, and a grader must score the answer the user was shown.
    /// </summary>
    public static int ReasoningEnd(string text, int start = 0) => text.IndexOf(ChatTokens.ThinkEnd, start, StringComparison.Ordinal);

    /// <summary>Where the text after a leading "&lt;think&gt;" (whitespace before it allowed) starts, or -1.</summary>
    internal static int OpeningTagEnd(string text)
    {
        int first = 0;
        while (first < text.Length && char.IsWhiteSpace(text[first])) first++;
        return text.AsSpan(first).StartsWith(ChatTokens.ThinkStart, StringComparison.Ordinal) ? first + ChatTokens.ThinkStart.Length : -1;
    }
}
