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
}
