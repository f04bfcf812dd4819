using System.Text.RegularExpressions;

namespace R1Sharp.Tasks.Rewards;

/// <summary>The writing systems the language-consistency reward tells apart.</summary>
public enum WritingScript { Other, Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, Thai, Hangul, Hiragana, Katakana, Han }

/// <summary>Counts words by writing script: the unit the language-consistency reward measures.</summary>
public static partial class WritingScripts
{
    [GeneratedRegex(@"\\[a-zA-Z]+")] private static partial Regex LatexCommand();

    public static WritingScript Of(char c)
    {
        if (!char.IsLetter(c)) return WritingScript.Other;
        return c switch
        {
            < '\u0250' or (>= '\u1E00' and <= '\u1EFF') => WritingScript.Latin,
            >= '\u0370' and <= '\u03FF' => WritingScript.Greek,
            >= '\u0400' and <= '\u052F' => WritingScript.Cyrillic,
            >= '\u0590' and <= '\u05FF' => WritingScript.Hebrew,
            (>= '\u0600' and <= '\u06FF') or (>= '\u0750' and <= '\u077F') => WritingScript.Arabic,
            >= '\u0900' and <= '\u097F' => WritingScript.Devanagari,
            >= '\u0E00' and <= '\u0E7F' => WritingScript.Thai,
            (>= '\uAC00' and <= '\uD7AF') or (>= '\u1100' and <= '\u11FF') or (>= '\u3130' and <= '\u318F') => WritingScript.Hangul,
            >= '\u3040' and <= '\u309F' => WritingScript.Hiragana,
            >= '\u30A0' and <= '\u30FF' => WritingScript.Katakana,
            (>= '\u4E00' and <= '\u9FFF') or (>= '\u3400' and <= '\u4DBF') or (>= '\uF900' and <= '\uFAFF') => WritingScript.Han,
            _ => WritingScript.Other,
        };
    }

    /// <summary>
    /// Words per script. Scripts written without spaces (Han, kana, Thai) count each letter as a word; others
    /// count runs of letters, ignoring one-letter words (variables like x) and LaTeX commands (\frac).
    /// </summary>
    public static Dictionary<WritingScript, int> CountWords(string text)
    {
        text = LatexCommand().Replace(text, " ");
        var counts = new Dictionary<WritingScript, int>();
        int i = 0;
        while (i < text.Length)
        {
            var script = Of(text[i]);
            if (script == WritingScript.Other) { i++; continue; }
            int end = i + 1;
            if (!IsUnspaced(script))
                while (end < text.Length && Of(text[end]) == script) end++;
            if (IsUnspaced(script) || end - i > 1) counts[script] = counts.GetValueOrDefault(script) + 1;
            i = end;
        }
        return counts;
    }

    static bool IsUnspaced(WritingScript s) => s is WritingScript.Han or WritingScript.Hiragana or WritingScript.Katakana or WritingScript.Thai;

    /// <summary>
    /// The scripts a text in the same language as <paramref name="text"/> may use: its dominant script, with
    /// Japanese kana and Han together, and Korean Hangul with Han. Empty when the text has no words.
    /// </summary>
    public static HashSet<WritingScript> LanguageOf(string text)
    {
        var counts = CountWords(text);
        if (counts.Count == 0) return [];
        var dominant = counts.MaxBy(kv => kv.Value).Key;
        bool hasKana = counts.ContainsKey(WritingScript.Hiragana) || counts.ContainsKey(WritingScript.Katakana);
        if (hasKana && dominant is WritingScript.Han or WritingScript.Hiragana or WritingScript.Katakana)
            return [WritingScript.Han, WritingScript.Hiragana, WritingScript.Katakana];
        if (dominant == WritingScript.Hangul) return [WritingScript.Hangul, WritingScript.Han];
        return [dominant];
    }
}
