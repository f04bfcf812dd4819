using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class ReasoningParserTests
{
    [Theory]
    [InlineData("2+2 is 4.\n</think>\n\n4", true, "2+2 is 4.\n", "\n\n4")]          // R1: template opened <think>
    [InlineData("<think>\nhmm\n</think>\n\nok", false, "\nhmm\n", "\n\nok")]        // Qwen3: completion opens it
    [InlineData("\n<think>x</think>y", true, "x", "y")]                              // repeated opening tag is dropped
    [InlineData("still thinking when max_tokens hit", true, "still thinking when max_tokens hit", null)]
    [InlineData("plain answer", false, null, "plain answer")]
    [InlineData("answer with </think> inside", false, null, "answer with </think> inside")]
    [InlineData("a</think>b</think>c", true, "a", "b</think>c")]
    [InlineData("", true, "", null)]
    [InlineData("", false, null, "")]
    public void SplitsAtTheFirstClosingTag(string completion, bool opened, string? reasoning, string? content) =>
        Assert.Equal((reasoning, content), ReasoningParser.Split(completion, opened));

    [Fact]
    public void ClosingTagSplitAcrossChunksIsFound()
    {
        var parser = new StreamingReasoningParser(thinkOpenedByTemplate: true);
        Assert.Equal(("think", ""), parser.Push("think</th"));
        Assert.Equal(StreamingReasoningParser.Part.Reasoning, parser.Current);
        Assert.Equal(("", "\nans"), parser.Push("ink>\nans"));
        Assert.Equal(StreamingReasoningParser.Part.Content, parser.Current);
        Assert.Equal(("", ""), parser.Finish());
    }

    [Fact]
    public void HeldBackTextIsReleasedWhenItIsNotATag()
    {
        var parser = new StreamingReasoningParser(thinkOpenedByTemplate: true);
        Assert.Equal(("a", ""), parser.Push("a</"));
        Assert.Equal(("</b", ""), parser.Push("b"));
        Assert.Equal(("", ""), parser.Push("</thi"));
        Assert.Equal(("</thi", ""), parser.Finish()); // never closed: all reasoning
    }

    /// <summary>Property: streaming gives the one-shot split for every way of cutting the text into chunks.</summary>
    [Fact]
    public void StreamingAgreesWithOneShotForEveryCut()
    {
        string[] texts =
        [
            "a</think>b", "<think>x</think>y", " \n<think>r</think>", "</think>", "<think>", "<thin", "</thi",
            "x</th</think>z", "<<think>>", " <thinker>", "r</think></think>c", "\n\n", "ab", "<think></think>",
        ];
        foreach (string text in texts)
            foreach (bool opened in new[] { true, false })
                foreach (var chunks in AllCuts(text))
                    AssertSameSplit(text, opened, chunks);

        // Longer random texts built from tag fragments: random cuts.
        var rng = new Random(7);
        string[] parts = ["<think>", "</think>", "<", "</", "</th", "ink>", "think", ">", "a", " ", "\n", "é😀"];
        for (int i = 0; i < 2000; i++)
        {
            string text = string.Concat(Enumerable.Range(0, rng.Next(1, 12)).Select(_ => parts[rng.Next(parts.Length)]));
            var cuts = Enumerable.Range(1, Math.Max(0, text.Length - 1)).Where(_ => rng.Next(3) == 0).ToList();
            AssertSameSplit(text, rng.Next(2) == 0, Chunks(text, cuts));
        }
    }

    static void AssertSameSplit(string text, bool opened, IReadOnlyList<string> chunks)
    {
        var parser = new StreamingReasoningParser(opened);
        string reasoning = "", content = "";
        foreach (string? chunk in chunks.Append<string?>(null))
        {
            var (r, c) = chunk is null ? parser.Finish() : parser.Push(chunk);
            reasoning += r;
            content += c;
        }
        var expected = ReasoningParser.Split(text, opened);
        Assert.True((expected.Reasoning ?? "", expected.Content ?? "") == (reasoning, content),
            $"{TokenizerTestData.Show(text)} opened={opened} cut as [{string.Join("|", chunks)}]");
    }

    static IEnumerable<IReadOnlyList<string>> AllCuts(string text)
    {
        int gaps = Math.Max(0, text.Length - 1);
        for (int mask = 0; mask < 1 << gaps; mask++)
            yield return Chunks(text, Enumerable.Range(1, gaps).Where(g => (mask & (1 << (g - 1))) != 0).ToList());
    }

    static List<string> Chunks(string text, List<int> cuts)
    {
        var bounds = new List<int> { 0 };
        bounds.AddRange(cuts);
        bounds.Add(text.Length);
        return bounds.Zip(bounds.Skip(1), (a, b) => text[a..b]).ToList();
    }
}
