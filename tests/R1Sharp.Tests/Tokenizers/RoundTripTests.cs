using System.Text;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

/// <summary>Property: Decode(Encode(x)) gives x back for arbitrary text, astral characters included.</summary>
public class RoundTripTests
{
    [Theory]
    [InlineData("deepseek_v3")]
    [InlineData("trained")]
    [InlineData("byte")]
    public void DecodeOfEncodeIsTheText(string name) => AssertRoundTrips(TokenizerTestData.Load(name), text => text);

    [Fact]
    public void QwenGivesBackTheNfcText() => AssertRoundTrips(TokenizerTestData.Load("qwen3"), UnicodeNfc.Normalize);

    [Fact]
    public void ByteTokenizerRoundTrips() => AssertRoundTrips(new ByteTokenizer(), text => text);

    static void AssertRoundTrips(ITextTokenizer tokenizer, Func<string, string> expected)
    {
        var rng = new Random(20250120);
        for (int i = 0; i < 400; i++)
        {
            string text = RandomText(rng);
            string back = tokenizer.Decode(tokenizer.Encode(text));
            Assert.True(expected(text) == back, $"round trip of {TokenizerTestData.Show(text)} gave {TokenizerTestData.Show(back)}");
        }
    }

    /// <summary>Valid UTF-16 from across Unicode, weighted toward what tokenizers treat specially.</summary>
    static string RandomText(Random rng)
    {
        string[] specials = [ChatTokens.ThinkStart, ChatTokens.ThinkEnd, ChatTokens.User, ChatTokens.Eos, ChatTokens.ImStart, "<|endoftext|>"];
        var sb = new StringBuilder();
        int n = rng.Next(0, 60);
        for (int i = 0; i < n; i++)
        {
            int kind = rng.Next(100);
            if (kind < 5)
            {
                sb.Append(specials[rng.Next(specials.Length)]);
                continue;
            }
            int cp = kind switch
            {
                < 40 => rng.Next(0, 0x80),                 // ASCII, controls and whitespace included
                < 55 => rng.Next(0x80, 0x800),             // Latin, Greek, Cyrillic, marks, Arabic…
                < 70 => rng.Next(0x3000, 0xA000),          // CJK, kana, Hangul jamo
                < 80 => rng.Next(0x1F300, 0x1FAFF),        // emoji
                < 90 => rng.Next(0x10000, 0x110000),       // any astral code point
                _ => rng.Next(0x800, 0x10000),             // rest of the BMP
            };
            if (cp is >= 0xD800 and < 0xE000) cp = 0xFFFD;
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }
}
