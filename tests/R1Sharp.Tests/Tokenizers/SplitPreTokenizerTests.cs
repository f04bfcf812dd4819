using System.Text.Json;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class SplitPreTokenizerTests
{
    static string[] Pieces(string text, params string[] patterns)
    {
        var pieces = new List<(int Start, int Length)>();
        new SplitPreTokenizer(patterns).Split(text, pieces);
        return pieces.Select(p => text.Substring(p.Start, p.Length)).ToArray();
    }

    [Fact]
    public void AstralLettersCountAsLetters()
    {
        // .NET's \p{L} alone would not match the surrogate pairs of 𝐀𝐁 (U+1D400, U+1D401) or 𠀀 (U+20000).
        Assert.Equal(["𝐀𝐁c", " d𠀀"], Pieces("𝐀𝐁c d𠀀", SplitPreTokenizer.QwenPattern));
    }

    [Fact]
    public void AstralDigitsCountAsOneCharacter()
    {
        Assert.Equal(["𝟎𝟏𝟐", "𝟑", "x"], Pieces("𝟎𝟏𝟐𝟑x", @"\p{N}{1,3}"));
    }

    [Fact]
    public void StepsApplyToThePiecesOfTheStepBefore()
    {
        // DeepSeek-V3: digits in threes first, then the word regex inside each remaining piece.
        Assert.Equal(["abc", "123", "456", "7", "def", " ", " x"], Pieces("abc1234567def  x", @"\p{N}{1,3}", SplitPreTokenizer.Gpt2Pattern));
    }

    [Fact]
    public void UnmatchedTextIsKeptAsItsOwnPiece()
    {
        Assert.Equal(["a", "--", "b"], Pieces("a--b", @"\p{L}+"));
    }

    /// <summary>Llama-3's pattern (digits in threes), written here as it has no tokenizer file under Data/.</summary>
    const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static TheoryData<string> RealTokenizers => new() { "deepseek_v3", "qwen3", "gpt2_style", "byte", "trained" };

    [Theory]
    [MemberData(nameof(RealTokenizers))]
    public void The_linear_time_engine_cuts_real_patterns_exactly_as_backtracking_does(string name)
    {
        var patterns = TokenizerTestData.Load(name).Definition.SplitPatterns;
        AssertSameCuts(patterns);
    }

    [Fact]
    public void Llama3s_pattern_and_deepseeks_simple_steps_cut_the_same_on_both_engines()
    {
        AssertSameCuts([Llama3Pattern]);
        var deepSeek = new SplitPreTokenizer(TokenizerTestData.Load("deepseek_v3").Definition.SplitPatterns);
        // Its digit and CJK steps have no lookaround: they run in linear time; the word step has "\s+(?!\S)".
        Assert.Equal([true, true, false], deepSeek.Linear);
        Assert.Equal([false], new SplitPreTokenizer([SplitPreTokenizer.QwenPattern]).Linear);
    }

    static void AssertSameCuts(IReadOnlyList<string> patterns)
    {
        var fast = new SplitPreTokenizer(patterns);
        var reference = new SplitPreTokenizer(patterns, backtrackingOnly: true);
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(TokenizerTestData.PathOf("corpus.json")))!
            .Append(File.ReadAllText(TokenizerTestData.PathOf("train-corpus.txt")));
        foreach (string text in texts)
        {
            List<(int, int)> a = [], b = [];
            fast.Split(text, a);
            reference.Split(text, b);
            Assert.True(a.SequenceEqual(b), TokenizerTestData.Show(text));
        }
    }

    [Fact]
    public void A_nested_quantifier_runs_in_linear_time_where_the_pattern_allows_it()
    {
        // "(a+)+$" took 11.6 s on a 29-character prompt on the backtracking engine.
        var tokenizer = new SplitPreTokenizer([@"(a+)+$"]);
        Assert.Equal([true], tokenizer.Linear);
        var pieces = new List<(int Start, int Length)>();
        tokenizer.Split(new string('a', 28) + "!" + new string('a', 1000) + "!", pieces);
        Assert.Equal([(0, 1030)], pieces);
    }

    [Fact]
    public void A_backtracking_pattern_that_blows_up_on_a_probe_is_refused()
    {
        // A lookahead keeps it off the linear-time engine.
        var e = Assert.Throws<R1Error>(() => new SplitPreTokenizer([@"\s+", @"(a+)+(?=b)"]));
        Assert.Contains("(a+)+(?=b)", e.Message);
        Assert.Contains("catastrophic backtracking", e.Message);
    }

    [Fact]
    public void A_backtracking_pattern_that_blows_up_on_a_text_fails_that_text_with_a_clear_error()
    {
        // The probes have no 'x', so this loads; a long run of x then times out instead of running for hours.
        var tokenizer = new SplitPreTokenizer([@"(x+x+)+(?=y)"]);
        var e = Assert.Throws<R1Error>(() => tokenizer.Split(new string('x', 40), []));
        Assert.Contains("(x+x+)+(?=y)", e.Message);
        Assert.Contains("was not tokenized", e.Message);
    }
}
