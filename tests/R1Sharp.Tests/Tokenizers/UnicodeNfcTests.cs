using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class UnicodeNfcTests
{
    public sealed record NfcCase(string Text, string Nfc);

    [Fact]
    public void MatchesIcuOnEveryBmpDecompositionAndOnMarkSequences()
    {
        // expected/nfc.json: node's String.prototype.normalize('NFC'), written by gen-expected.mjs.
        var wrong = TokenizerTestData.Cases<NfcCase>("nfc.json").Where(c => UnicodeNfc.Normalize(c.Text) != c.Nfc)
            .Select(c => $"{TokenizerTestData.Show(c.Text)} -> {TokenizerTestData.Show(UnicodeNfc.Normalize(c.Text))}, ICU: {TokenizerTestData.Show(c.Nfc)}")
            .ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} differ:\n{string.Join("\n", wrong.Take(10))}");
    }

    [Theory]
    [InlineData("Cafe\u0301", "Café")]                       // composes
    [InlineData("\u212B", "\u00C5")]                         // singleton: Angstrom sign becomes Å
    [InlineData("\u1E0B\u0323", "\u1E0D\u0307")]             // reordering: dot below goes first, then composes
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]           // reordered, nothing to compose
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]             // Hangul jamo L V T
    [InlineData("\u0958", "\u0915\u093C")]                   // composition exclusion stays decomposed
    [InlineData("plain ascii", "plain ascii")]
    [InlineData("𝐀 😀 𠀀", "𝐀 😀 𠀀")]
    public void KnownExamples(string text, string nfc) => Assert.Equal(nfc, UnicodeNfc.Normalize(text));
}
