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

    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (AddedTokenMatcher.Segment segment in matcher.Split(text))
        {
            if (segment.Token is not null) ids.Add(segment.Token.Id);
            else foreach (byte b in Encoding.UTF8.GetBytes(text.Substring(segment.Start, segment.Length))) ids.Add(b);
        }
        return ids;
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
