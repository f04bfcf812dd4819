using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// The tokenizer for tiny test models: ids 0–255 are the UTF-8 bytes, then <see cref="ChatTokens.OwnSpecialTokens"/>
/// (BOS 256, EOS 257, PAD 258, the R1 role tokens, &lt;think&gt;, &lt;/think&gt;, &lt;answer&gt;, &lt;/answer&gt;).
/// It is a byte-level BPE with no merges, so <see cref="Save"/> writes a tokenizer.json that <see cref="HfTokenizer"/>
/// and Hugging Face load with the same ids.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    readonly AddedToken[] specials = ChatTokens.OwnSpecialTokens
        .Select((t, i) => new AddedToken(256 + i, t, ChatTokens.IsSpecial(t))).ToArray();
    readonly AddedTokenMatcher matcher;

    public ByteTokenizer() => matcher = new AddedTokenMatcher(specials);

    public int VocabSize => 256 + specials.Length;
    public int? BosId => TokenToId(ChatTokens.Bos);
    public int? EosId => TokenToId(ChatTokens.Eos);
    public int? PadId => TokenToId(ChatTokens.Pad);

    public int? TokenToId(string token)
    {
        if (specials.FirstOrDefault(t => t.Content == token) is { } special) return special.Id;
        byte[] bytes = Encoding.UTF8.GetBytes(token);
        return bytes.Length == 1 ? bytes[0] : null;
    }

    public IReadOnlyList<int> Encode(string text) => Encode(new ChatPrompt(text, []));

    public IReadOnlyList<int> Encode(ChatPrompt prompt)
    {
        string text = prompt.Text;
        var ids = new List<int>(text.Length);
        int at = 0;
        foreach ((int start, int length) in prompt.ContentSpans())
        {
            EncodeMarkup(at, start);
            ids.AddRange(Encoding.UTF8.GetBytes(text, start, length).Select(b => (int)b));
            at = start + length;
        }
        EncodeMarkup(at, text.Length);
        return ids;

        void EncodeMarkup(int start, int end)
        {
            foreach (AddedTokenMatcher.Segment segment in matcher.Split(text, start, end))
            {
                if (segment.Token is not null) ids.Add(segment.Token.Id);
                else ids.AddRange(Encoding.UTF8.GetBytes(text, segment.Start, segment.Length).Select(b => (int)b));
            }
        }
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id is >= 0 and < 256)
            {
                bytes.Add((byte)id);
                continue;
            }
            int index = id - 256;
            if (index < 0 || index >= specials.Length || (skipSpecialTokens && specials[index].Special)) continue;
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
            text.Append(specials[index].Content);
        }
        return text.Append(Encoding.UTF8.GetString(bytes.ToArray())).ToString();
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/>.</summary>
    public void Save(string directory) =>
        TokenizerLoader.Save(directory, BpeTrainer.BuildTokenizerJson(merges: []), TokenizerConfig.ForOwnTokenizers);
}
