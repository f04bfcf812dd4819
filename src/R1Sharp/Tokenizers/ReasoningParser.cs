namespace R1Sharp.Tokenizers;

/// <summary>
/// Splits a completion into its reasoning (inside &lt;think&gt;…&lt;/think&gt;) and its answer, as vLLM's deepseek_r1
/// parser does. The completion is reasoning from the start when the chat template opened "&lt;think&gt;" (R1), or when
/// it opens one itself (after optional whitespace; Qwen3); the reasoning runs to the first "&lt;/think&gt;", or to the end
/// if it never closes. Text is kept exactly: no whitespace is trimmed around the tags.
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
        int end = completion.IndexOf(ChatTokens.ThinkEnd, start, StringComparison.Ordinal);
        return end < 0
            ? (completion[start..], null)
            : (completion[start..end], completion[(end + ChatTokens.ThinkEnd.Length)..]);
    }

    /// <summary>Where the text after a leading "&lt;think&gt;" (whitespace before it allowed) starts, or -1.</summary>
    internal static int OpeningTagEnd(string text)
    {
        int first = 0;
        while (first < text.Length && char.IsWhiteSpace(text[first])) first++;
        return text.AsSpan(first).StartsWith(ChatTokens.ThinkStart, StringComparison.Ordinal) ? first + ChatTokens.ThinkStart.Length : -1;
    }
}
