using System.Globalization;
using System.Text;

namespace R1Sharp;

/// <summary>
/// Text read from files we don't trust (tensor names, metadata keys and values) made safe to print on a terminal or
/// in an error message: control and format characters (ESC, BEL, newlines, bidi overrides, lone surrogates) are
/// escaped, so a name cannot forge lines or send terminal sequences, and long text is cut.
/// </summary>
public static class UntrustedText
{
    public static string Printable(string text, int maxChars = 200)
    {
        var s = new StringBuilder(Math.Min(text.Length, maxChars) + 16);
        int end = Math.Min(text.Length, maxChars);
        for (int i = 0; i < end; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
            {
                s.Append(c).Append(text[++i]);
                continue;
            }
            s.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when NeedsEscape(c) => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }
        if (text.Length > maxChars) s.Append($"... ({text.Length:N0} chars)");
        return s.ToString();
    }

    static bool NeedsEscape(char c) => char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c)
        is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
