using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// <see cref="ReasoningParser"/> for text that arrives in chunks (e.g. one decoded token at a time). Push returns
/// what can already be told apart; text that might be the start of a tag ("&lt;/thi") is held back until the next
/// chunk or <see cref="Finish"/> decides. Concatenating all deltas gives exactly <see cref="ReasoningParser.Split"/>'s result.
/// </summary>
public sealed class StreamingReasoningParser(bool thinkOpenedByTemplate)
{
    public enum Part { Undecided, Reasoning, Content }

    /// <summary>Where the text pushed so far is going: Undecided only before the first non-space text.</summary>
    public Part Current { get; private set; } = Part.Undecided;

    string pending = "";

    public (string ReasoningDelta, string ContentDelta) Push(string chunk)
    {
        pending += chunk;
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (true)
        {
            if (Current == Part.Undecided)
            {
                string rest = pending.TrimStart();
                if (rest.Length == 0 || (rest.Length < ChatTokens.ThinkStart.Length && ChatTokens.ThinkStart.StartsWith(rest, StringComparison.Ordinal)))
                    break; // only space, or maybe a "<think>" still arriving
                int opened = ReasoningParser.OpeningTagEnd(pending);
                if (opened >= 0) pending = pending[opened..];
                Current = opened >= 0 || thinkOpenedByTemplate ? Part.Reasoning : Part.Content;
            }
            else if (Current == Part.Reasoning)
            {
                int end = ReasoningParser.ReasoningEnd(pending);
                if (end >= 0)
                {
                    reasoning.Append(pending, 0, end);
                    pending = pending[(end + ChatTokens.ThinkEnd.Length)..];
                    Current = Part.Content;
                    continue;
                }
                int hold = PartialTagLength(pending);
                reasoning.Append(pending, 0, pending.Length - hold);
                pending = pending[^hold..];
                break;
            }
            else
            {
                content.Append(pending);
                pending = "";
                break;
            }
        }
        return (reasoning.ToString(), content.ToString());
    }

    /// <summary>Releases the held-back text once no more chunks will come.</summary>
    public (string ReasoningDelta, string ContentDelta) Finish()
    {
        string rest = pending;
        pending = "";
        bool reasoning = Current == Part.Reasoning || (Current == Part.Undecided && thinkOpenedByTemplate);
        return reasoning ? (rest, "") : ("", rest);
    }

    /// <summary>Length of the longest end of <paramref name="text"/> that could be the start of "&lt;/think&gt;".</summary>
    static int PartialTagLength(string text)
    {
        for (int n = Math.Min(text.Length, ChatTokens.ThinkEnd.Length - 1); n > 0; n--)
            if (text.AsSpan(text.Length - n).SequenceEqual(ChatTokens.ThinkEnd.AsSpan(0, n))) return n;
        return 0;
    }
}
