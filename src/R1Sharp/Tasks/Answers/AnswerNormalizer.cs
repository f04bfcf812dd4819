using System.Text.RegularExpressions;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// Rewrites an extracted answer into the plain form <see cref="MathParser"/> reads: drops math delimiters,
/// currency and degree signs, units, spacing commands and thousands separators, and expands LaTeX shorthand
/// such as \frac12. Only rewrites that keep the value are made here; anything doubtful is left for the parser
/// to reject.
/// </summary>
public static partial class AnswerNormalizer
{
    const string TextCommands = "text|textbf|textit|textrm|textnormal|textsf|mathrm|mathbf|mathit|mathsf|mbox|operatorname|boldsymbol|hbox";

    [GeneratedRegex(@"\\[()\[\]]")] private static partial Regex MathDelimiters();
    [GeneratedRegex(@"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree|\\textdegree|\\circ")] private static partial Regex Degrees();
    [GeneratedRegex(@"(?<=\d)\\,(?=\d{3}(?!\d))")] private static partial Regex ThinSpaceThousands();
    // MATH's own separator: "4,\!096", "1,\! 000,\! 000". Only before a group of exactly three digits, so "(1,\!2)" stays a pair.
    [GeneratedRegex(@"(?<=\d),\\!\s*(?=\d{3}(?!\d))")] private static partial Regex MathThousands();
    [GeneratedRegex(@"(?<!\\)\\[,;:! ]|~|\\quad|\\qquad")] private static partial Regex Spacing();
    [GeneratedRegex(@"\\([dtc]?frac)\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])")] private static partial Regex FracTwoAtoms();
    [GeneratedRegex(@"\\([dtc]?frac)\s*([0-9a-zA-Z])\s*\{")] private static partial Regex FracAtomThenGroup();
    [GeneratedRegex(@"\\([dtc]?frac)\s*(\{[^{}]*\})\s*([0-9a-zA-Z])")] private static partial Regex FracGroupThenAtom();
    [GeneratedRegex(@"\\sqrt\s*([0-9a-zA-Z])")] private static partial Regex SqrtAtom();
    [GeneratedRegex(@"\\(?:" + TextCommands + @")\s*\{([^{}]*)\}")] private static partial Regex TextCommand();
    [GeneratedRegex(@"\s*(?:\\(?:" + TextCommands + @")\s*\{[^{}]*\}|(?<=[\d\s}])\s*(?<![\\a-zA-Z])(?<word>[a-zA-Z]{2,}))\s*(?:\^\s*\{?\d\}?)?\s*\.?\s*$")]
    private static partial Regex TrailingUnit();
    [GeneratedRegex(@"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")] private static partial Regex ThousandsNumber();
    [GeneratedRegex(@"\s*\\?%|\s*\bpercent\b")] private static partial Regex PercentSign();

    [GeneratedRegex(@"(?<whole>\d*)\.(?<fixed>\d*)\\overline\s*\{(?<repeat>\d+)\}")] private static partial Regex RepeatingDecimal();

    /// <summary>0.1\overline{6} = 1/6: the exact fraction, written so the parser reads it.</summary>
    static string RepeatingDecimalAsFraction(Match m)
    {
        string whole = m.Groups["whole"].Value, fixedDigits = m.Groups["fixed"].Value, repeat = m.Groups["repeat"].Value;
        if (fixedDigits.Length + repeat.Length > 30) return m.Value;
        var withRepeat = System.Numerics.BigInteger.Parse("0" + whole + fixedDigits + repeat);
        var withoutRepeat = System.Numerics.BigInteger.Parse("0" + whole + fixedDigits);
        var denominator = (System.Numerics.BigInteger.Pow(10, repeat.Length) - 1) * System.Numerics.BigInteger.Pow(10, fixedDigits.Length);
        return $"\\frac{{{withRepeat - withoutRepeat}}}{{{denominator}}}";
    }

    // Words that are mathematics, not units, when they end an answer.
    static readonly HashSet<string> MathWords = ["pi", "inf", "infty", "infinity", "sqrt", "ln", "log", "exp", "sin", "cos", "tan"];

    /// <summary>The answer in plain parser input; units at the end are dropped when a number remains.</summary>
    public static string Clean(string answer)
    {
        string s = answer.Trim();
        s = s.Replace("\\$", "").Replace("$", "");
        s = MathDelimiters().Replace(s, "");
        s = Degrees().Replace(s, "");
        s = s.Replace("{,}", "");
        s = ThinSpaceThousands().Replace(s, "");
        s = MathThousands().Replace(s, "");
        s = Spacing().Replace(s, " ");
        s = StripTrailingUnits(s);
        s = TextCommand().Replace(s, " $1 ");
        s = StripTrailingUnits(s); // units that were inside \text{5 inches}
        s = RepeatingDecimal().Replace(s, m => RepeatingDecimalAsFraction(m));
        s = FracTwoAtoms().Replace(s, @"\$1{$2}{$3}");
        s = FracAtomThenGroup().Replace(s, @"\$1{$2}{");
        s = FracGroupThenAtom().Replace(s, @"\$1$2{$3}");
        s = SqrtAtom().Replace(s, @"\sqrt{$1}");
        s = PercentSign().Replace(s, "%");
        s = s.Trim().TrimEnd('.').Trim();
        if (ThousandsNumber().IsMatch(s)) s = s.Replace(",", "");
        return s;
    }

    /// <summary>"18 \text{ dollars}" → "18", "5 cm^2" → "5"; "2\pi" and "x" are left alone.</summary>
    static string StripTrailingUnits(string s)
    {
        while (TrailingUnit().Match(s) is { Success: true } m && !MathWords.Contains(m.Groups["word"].Value))
        {
            string rest = s[..m.Index];
            if (!rest.Any(char.IsAsciiDigit)) break;
            s = rest;
        }
        return s;
    }

    /// <summary>
    /// Whether an unmarked answer is one short text answer: "Monday", "\\textbf{even}", "(C)", "North Carolina" (up to
    /// three words of letters), so a completion that is just the word is read as the answer.
    /// </summary>
    public static bool IsShortText(string answer) =>
        answer.Length <= 100 && ShortText().IsMatch(TextCommand().Replace(Clean(answer), "$1").Trim());

    /// <summary>
    /// Whether a gold answer is text by its own markup — one "\\text{…}" of words or an option letter, as MATH
    /// writes "\\text{Monday}" or "\\text{(C)}" — so it compares as text, never as a product of variables.
    /// </summary>
    public static bool IsMarkedText(string answer) =>
        WholeTextCommand().Match(answer.Trim()) is { Success: true } m && ShortText().IsMatch(m.Groups[1].Value.Trim());

    [GeneratedRegex(@"^(?:[A-Za-z]+(?:[ '-][A-Za-z]+){0,2}|\([A-Za-z]\))$")] private static partial Regex ShortText();
    [GeneratedRegex(@"^\$?\\(?:" + TextCommands + @")\s*\{([^{}]*)\}\$?$")] private static partial Regex WholeTextCommand();

    /// <summary>Answers that aren't mathematics ("Tuesday", "(C)", "\text{even}") compare by this text.</summary>
    public static string TextKey(string answer)
    {
        string s = TextCommand().Replace(Clean(answer), "$1");
        s = new string(s.Where(c => !char.IsWhiteSpace(c)).ToArray()).ToLowerInvariant();
        // Multiple-choice letters: "(C)", "C", "\text{(C)}" are one answer.
        if (s.Length == 3 && s[0] == '(' && s[2] == ')' && char.IsLetter(s[1])) s = s[1..2];
        return s;
    }
}
