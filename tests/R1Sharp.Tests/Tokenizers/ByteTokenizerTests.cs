using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class ByteTokenizerTests
{
    [Fact]
    public void MatchesHuggingFaceLoadingItsSavedTokenizerJson()
    {
        // expected/byte.json: transformers.js on Data/tokenizers/byte, which `r1 tokenizer byte` wrote (see gen-expected.mjs).
        var tokenizer = new ByteTokenizer();
        foreach (var c in TokenizerTestData.ExpectedEncodings("byte"))
        {
            Assert.Equal(c.Ids, tokenizer.Encode(c.Text));
            Assert.Equal(c.Decoded, tokenizer.Decode(c.Ids));
            Assert.Equal(c.DecodedSkipSpecial, tokenizer.Decode(c.Ids, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void SavesTheCommittedFiles()
    {
        using var dir = new TempDir("r1-byte-");
        new ByteTokenizer().Save(dir);
        foreach (string file in new[] { TokenizerLoader.TokenizerFileName, TokenizerLoader.ConfigFileName })
            Assert.Equal(File.ReadAllText(TokenizerTestData.PathOf("byte", file)), File.ReadAllText(Path.Combine(dir, file)));
    }

    [Fact]
    public void HasBytesThenChatTokens()
    {
        var tokenizer = new ByteTokenizer();
        Assert.Equal(265, tokenizer.VocabSize);
        Assert.Equal((256, 257, 258), (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
        Assert.Equal([104, 105, 261, 0xF0, 0x9F, 0x98, 0x80, 262], tokenizer.Encode("hi<think>😀</think>"));
        Assert.Equal(ChatTokens.OwnSpecialTokens.Count, ChatTokens.OwnSpecialTokens.Select(tokenizer.TokenToId).Distinct().Count());
        Assert.Equal("x", tokenizer.Decode([256, 'x', 257], skipSpecialTokens: true));
    }
}
