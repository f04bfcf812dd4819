using System.Buffers;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Cuts text into plain stretches and added tokens. Where several tokens match, the leftmost and then the longest wins,
/// as in Hugging Face tokenizers (e.g. "&lt;｜tool▁calls▁begin｜&gt;" beats any shorter token at the same place).
/// </summary>
public sealed class AddedTokenMatcher
{
    sealed class Node
    {
        public Dictionary<char, Node> Next { get; } = new();
        public AddedToken? Token { get; set; }
    }

    readonly Node root = new();
    readonly SearchValues<char> firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        foreach (AddedToken token in tokens)
        {
            if (token.Content.Length == 0) continue;
            Node node = root;
            foreach (char c in token.Content)
            {
                if (!node.Next.TryGetValue(c, out Node? next)) node.Next[c] = next = new Node();
                node = next;
            }
            node.Token = token;
        }
        firstChars = SearchValues.Create(root.Next.Keys.ToArray());
    }

    public bool IsEmpty => root.Next.Count == 0;

    /// <summary>A stretch of the input: plain text when <see cref="Token"/> is null, else one added token.</summary>
    public readonly record struct Segment(int Start, int Length, AddedToken? Token);

    public IEnumerable<Segment> Split(string text) => Split(text, 0, text.Length);

    /// <summary>Splits text[start..end); a token must lie wholly inside it. Segments hold positions in the whole text.</summary>
    public IEnumerable<Segment> Split(string text, int start, int end)
    {
        int plainStart = start, i = start;
        while (i < end)
        {
            int hit = text.AsSpan(i, end - i).IndexOfAny(firstChars);
            if (hit < 0) break;
            i += hit;
            (AddedToken? token, int length) = LongestAt(text, i, end);
            if (token is null)
            {
                i++;
                continue;
            }
            if (i > plainStart) yield return new Segment(plainStart, i - plainStart, null);
            yield return new Segment(i, length, token);
            i += length;
            plainStart = i;
        }
        if (plainStart < end) yield return new Segment(plainStart, end - plainStart, null);
    }

    (AddedToken? Token, int Length) LongestAt(string text, int start, int end)
    {
        Node node = root;
        (AddedToken? Token, int Length) best = (null, 0);
        for (int j = start; j < end && node.Next.TryGetValue(text[j], out Node? next); j++)
        {
            node = next;
            if (node.Token is not null) best = (node.Token, j - start + 1);
        }
        return best;
    }
}
