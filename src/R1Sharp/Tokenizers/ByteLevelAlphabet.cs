using System.Text;

namespace R1Sharp.Tokenizers;

/// <summary>
/// GPT-2's byte-level alphabet: each of the 256 byte values gets a printable character (space is 'Ġ', newline 'Ċ'),
/// so a byte-level BPE vocabulary is a plain string → id map. Same table as Hugging Face's bytes_to_unicode.
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>The character standing for each byte value.</summary>
    public static IReadOnlyList<char> ByteToChar { get; } = BuildTable();

    static char[] BuildTable()
    {
        // Printable Latin-1 bytes stand for themselves; the rest are shifted to U+0100 and up, in byte order.
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The vocabulary form of a text: its UTF-8 bytes, each written as its alphabet character.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }
}
