using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class BpeTrainerTests
{
    static IEnumerable<string> Corpus => TextCorpus.ReadTexts(TokenizerTestData.PathOf("train-corpus.txt"));

    [Fact]
    public void TrainingTheCommittedCorpusGivesTheCommittedTokenizer()
    {
        // Data/tokenizers/trained came from `r1 tokenizer train ... --vocab-size 1000`; HF loaded it (expected/trained.json).
        using var dir = new TempDir("r1-bpe-");
        TokenizerLoader.Save(dir, BpeTrainer.Train(Corpus, vocabSize: 1000), TokenizerConfig.ForOwnTokenizers);
        Assert.Equal(File.ReadAllText(TokenizerTestData.PathOf("trained", "tokenizer.json")), File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        Assert.Equal(File.ReadAllText(TokenizerTestData.PathOf("trained", "tokenizer_config.json")), File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")));
    }

    [Fact]
    public void TrainedTokenizerCompressesItsCorpusAndRoundTrips()
    {
        TokenizerJson trained = BpeTrainer.Train(Corpus, vocabSize: 600);
        Assert.Equal(600, trained.Vocab.Count);
        var tokenizer = new HfTokenizer(trained, TokenizerConfig.ForOwnTokenizers);
        string sample = "<｜User｜>Alice has 12 apples. What is 12 + 30?<｜Assistant｜><think>\n12 + 30 = 42\n</think>\n\n<answer>42</answer>";
        var ids = tokenizer.Encode(sample);
        Assert.Equal(sample, tokenizer.Decode(ids));
        int byteCount = new ByteTokenizer().Encode(sample).Count;
        Assert.True(ids.Count * 3 < byteCount * 2, $"{ids.Count} tokens against {byteCount} bytes");
        Assert.Contains(tokenizer.TokenToId(ChatTokens.ThinkStart)!.Value, ids);
    }

    [Fact]
    public void StopsWhenNoPairRepeats()
    {
        TokenizerJson trained = BpeTrainer.Train(["abab abab"], vocabSize: 5000);
        Assert.Equal(["a b", "ab ab"], trained.Merges.Select(m => $"{m.Left} {m.Right}"));
    }

    [Fact]
    public void VocabBelowBytesAndSpecialsIsAUserError()
    {
        var e = Assert.Throws<R1Error>(() => BpeTrainer.Train(["x"], vocabSize: 100));
        Assert.Contains("265", e.Message);
    }
}
