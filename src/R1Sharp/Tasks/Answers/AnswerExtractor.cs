using System.Text.RegularExpressions;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// Finds the final-answer candidates in the answer part of a completion, by the first of these that occurs:
/// \boxed{…}/\fbox{…} (nested braces), &lt;answer&gt;…&lt;/answer&gt;, "the answer is …", GSM8K's "#### …".
/// Every occurrence of that kind is returned; the checker requires them to agree.
/// </summary>
public static partial class AnswerExtractor
{
    [GeneratedRegex(@"\\(?:boxed|fbox)\b")] private static partial Regex BoxCommand();
    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline)] private static partial Regex AnswerTags();
    // "the answer is 5", "final answer is: 5", or a line starting "Answer: 5" / "**Final Answer:** 5".
    [GeneratedRegex(@"(?:(?:the|final|my)\s+answer\s+(?:is|would be|will be)|^[ \t*#]*(?:final[ \t]+)?answer[ \t]*\**[ \t]*:)[ \t]*:?[ \t]*\**[ \t]*(?<answer>[^\n]*)",
        RegexOptions.IgnoreCase | RegexOptions.Multiline)]
    private static partial Regex AnswerIsPhrase();
    [GeneratedRegex(@"####\s*(?<answer>[^\n]*)")] private static partial Regex HashMarks();
    // A sentence ends at ". " or a final "."; "3.5" is not an ending.
    [GeneratedRegex(@"\.(?=\s|$)")] private static partial Regex SentenceEnd();

    public static IReadOnlyList<string> Candidates(string answerText)
    {
        var boxed = Boxed(answerText);
        if (boxed.Count > 0) return boxed;
        var tagged = AnswerTags().Matches(answerText).Select(m => m.Groups[1].Value.Trim()).ToList();
        if (tagged.Count > 0) return tagged;
        var stated = AnswerIsPhrase().Matches(answerText).Select(m => FirstSentence(m.Groups["answer"].Value)).ToList();
        if (stated.Count > 0) return stated;
        return HashMarks().Matches(answerText).Select(m => m.Groups["answer"].Value.Trim()).ToList();
    }

    /// <summary>Contents of every \boxed{…} / \fbox{…} (and "\boxed 5"); an unclosed box yields nothing.</summary>
    public static List<string> Boxed(string text)
    {
        var contents = new List<string>();
        foreach (Match m in BoxCommand().Matches(text))
        {
            int i = m.Index + m.Length;
            while (i < text.Length && text[i] == ' ') i++;
            if (i < text.Length && text[i] == '{')
            {
                int depth = 0;
                for (int j = i; j < text.Length; j++)
                {
                    if (text[j] == '{') depth++;
                    else if (text[j] == '}' && --depth == 0)
                    {
                        contents.Add(text[(i + 1)..j].Trim());
                        break;
                    }
                }
            }
            else if (i > m.Index + m.Length)
            {
                int end = i;
                while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] != '$') end++;
                contents.Add(text[i..end]);
            }
        }
        return contents;
    }

    static string FirstSentence(string text)
    {
        // "Final Answer: The final answer is 5." — the inner phrase holds the answer.
        while (AnswerIsPhrase().Match(text) is { Success: true } inner) text = inner.Groups["answer"].Value;
        text = text.Replace("**", "").Trim();
        var end = SentenceEnd().Match(text);
        return (end.Success ? text[..end.Index] : text).Trim();
    }
}
