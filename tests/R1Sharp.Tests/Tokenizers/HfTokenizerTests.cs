using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

/// <summary>
/// Token-for-token agreement with Hugging Face. The expected ids in Data/tokenizers/expected/*.json were produced by
/// transformers.js; to regenerate them run gen-expected.mjs in this folder (its header has the exact commands).
/// </summary>
public class HfTokenizerTests
{
    [Theory]
    [InlineData("deepseek_v3")]
    [InlineData("qwen3")]
    [InlineData("trained")]
    [InlineData("byte")]
    [InlineData("gpt2_style")]
    public void EncodeMatchesHuggingFace(string name)
    {
        HfTokenizer tokenizer = TokenizerTestData.Load(name);
        var wrong = TokenizerTestData.ExpectedEncodings(name)
            .Where(c => !tokenizer.Encode(c.Text).SequenceEqual(c.Ids))
            .Select(c => $"{TokenizerTestData.Show(c.Text)}\n  HF:   [{string.Join(",", c.Ids)}]\n  ours: [{string.Join(",", tokenizer.Encode(c.Text))}]")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} texts encode differently:\n{string.Join("\n", wrong.Take(5))}");
    }

    [Theory]
    [InlineData("deepseek_v3")]
    [InlineData("qwen3")]
    [InlineData("trained")]
    [InlineData("byte")]
    [InlineData("gpt2_style")]
    public void DecodeMatchesHuggingFace(string name)
    {
        HfTokenizer tokenizer = TokenizerTestData.Load(name);
        foreach (var c in TokenizerTestData.ExpectedEncodings(name))
        {
            Assert.Equal(c.Decoded, tokenizer.Decode(c.Ids));
            Assert.Equal(c.DecodedSkipSpecial, tokenizer.Decode(c.Ids, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void IgnoreMergesTakesWholeVocabularyWords()
    {
        // gpt2_style has "abc" and "Ġhello" in its vocabulary but no merges that build them (see gen-expected.mjs).
        HfTokenizer gpt2Style = TokenizerTestData.Load("gpt2_style");
        Assert.Equal(gpt2Style.TokenToId("abc"), Assert.Single(gpt2Style.Encode("abc")));
        Assert.Equal(gpt2Style.TokenToId(" hello"), Assert.Single(gpt2Style.Encode(" hello")));
        Assert.Equal([gpt2Style.TokenToId("ab")!.Value, 'd'], gpt2Style.Encode("abd"));
    }

    [Fact]
    public void DeepSeekMatchesTheVectorsOfMlNetsOwnTests()
    {
        // dotnet/machinelearning BpeTests.DeepSeekData (DeepSeek-R1 tokenizer.json), without the BOS its post-processor adds.
        HfTokenizer deepSeek = TokenizerTestData.Load("deepseek_v3");
        Assert.Equal([3465, 1258, 6036, 14, 291, 3395, 361, 1354, 260, 940, 291], deepSeek.Encode("def add(a, b):\n    return a + b"));
        Assert.Equal([6895, 18009, 25744, 18], deepSeek.Encode("1234567890"));
        Assert.Equal([52765, 93, 21, 90, 15, 19, 14419, 10, 19, 34705, 21590, 20], deepSeek.Encode(@"\sqrt{3x-1}+(1+x)^2"));
    }

    [Fact]
    public void SpecialTokenIdsComeFromTheFilesAndConfig()
    {
        HfTokenizer deepSeek = TokenizerTestData.Load("deepseek_v3");
        Assert.Equal((0, 1, 1), (deepSeek.BosId, deepSeek.EosId, deepSeek.PadId));
        Assert.Equal(128803, deepSeek.TokenToId(ChatTokens.User));
        Assert.Equal(128815, deepSeek.VocabSize);

        HfTokenizer qwen = TokenizerTestData.Load("qwen3");
        Assert.Null(qwen.BosId);
        Assert.Equal(151645, qwen.EosId); // <|im_end|>
        Assert.Equal(151643, qwen.PadId); // <|endoftext|>
        Assert.Equal((151667, 151668), (qwen.TokenToId("<think>"), qwen.TokenToId("</think>")));
        Assert.Equal(151669, qwen.VocabSize);
    }

    [Fact]
    public void TokenToIdTakesTextNotTheByteLevelSpelling()
    {
        HfTokenizer qwen = TokenizerTestData.Load("qwen3");
        int theWithSpace = Assert.Single(qwen.Encode(" the"));
        Assert.Equal(theWithSpace, qwen.TokenToId(" the"));
        Assert.Null(qwen.TokenToId(" the quick brown fox"));
    }

    [Fact]
    public void LoneSurrogatesAreEncodedAsTheReplacementCharacter()
    {
        HfTokenizer deepSeek = TokenizerTestData.Load("deepseek_v3");
        Assert.Equal(deepSeek.Encode("a\uFFFDb\uFFFD"), deepSeek.Encode("a\uD800b\uDFFF"));
    }

    [Fact]
    public void DecodeSkipsIdsOutsideTheVocabularyLikeHuggingFace()
    {
        // Model vocabularies are padded past the tokenizer (DeepSeek-V3: 129,280 rows for 128,815 tokens).
        HfTokenizer deepSeek = TokenizerTestData.Load("deepseek_v3");
        var ids = deepSeek.Encode("hello world").Append(129_000).Append(-1);
        Assert.Equal("hello world", deepSeek.Decode(ids));
    }

    [Fact]
    public void The_piece_cache_skips_long_pieces_and_stops_at_its_byte_bound()
    {
        // A fresh tokenizer, so the shared one's cache is not counted.
        var tokenizer = TokenizerLoader.Load(TokenizerTestData.PathOf("byte"));
        Assert.Equal(0, tokenizer.PieceCacheBytes);
        // Hundreds of distinct long words: each is one piece, each longer than the cache takes.
        for (int i = 0; i < 300; i++)
            tokenizer.Encode(string.Concat(Enumerable.Repeat($"word{i}x", 2000)).Replace("0", "o").Replace("1", "l"));
        Assert.True(tokenizer.PieceCacheBytes < 10_000, $"{tokenizer.PieceCacheBytes} bytes cached for long pieces");

        // Distinct short words (letters only, one piece each) until far more than the bound would be cached.
        var words = new System.Text.StringBuilder();
        for (int i = 0; i < 250_000; i++)
        {
            words.Append(' ');
            for (int n = i; n > 0 || words[^1] == ' '; n /= 26) words.Append((char)('a' + n % 26));
            if (words.Length > 100_000)
            {
                tokenizer.Encode(words.ToString());
                words.Clear();
            }
        }
        tokenizer.Encode(words.ToString());
        long cacheEntry = 104 + 2 * (HfTokenizer.MaxCachedPieceLength + 1) + 4 * HfTokenizer.MaxCachedPieceLength;
        Assert.InRange(tokenizer.PieceCacheBytes, HfTokenizer.MaxPieceCacheBytes - cacheEntry, HfTokenizer.MaxPieceCacheBytes + cacheEntry);
    }

    [Fact]
    public void The_longest_token_bounds_how_much_text_a_token_count_can_hold()
    {
        // The byte tokenizer: one byte per vocabulary token (two in UTF-8 for the shifted byte characters); its longest
        // added token is "<｜begin▁of▁sentence｜>", 29 bytes.
        var bytes = TokenizerTestData.Load("byte");
        Assert.Equal(2, bytes.MaxInputBytesPerToken(withAddedTokens: false));
        Assert.Equal(29, bytes.MaxInputBytesPerToken(withAddedTokens: true));
        // Qwen3 normalises to NFC, which can merge three characters into one: its bound is three times its longest token.
        var qwen = TokenizerTestData.Load("qwen3");
        Assert.Equal(0, qwen.MaxInputBytesPerToken(false) % 3);
        foreach (var tokenizer in new[] { bytes, qwen, TokenizerTestData.Load("deepseek_v3") })
            foreach (string text in TokenizerTestData.ExpectedEncodings("deepseek_v3").Select(c => c.Text))
                Assert.True(System.Text.Encoding.UTF8.GetByteCount(text) <= tokenizer.Encode(text).Count * tokenizer.MaxInputBytesPerToken(true));
    }
}
