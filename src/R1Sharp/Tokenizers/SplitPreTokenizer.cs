using System.Globalization;
using System.Text.RegularExpressions;

namespace R1Sharp.Tokenizers;

/// <summary>
/// The pre-tokenizer of a byte-level BPE tokenizer.json: regexes applied in sequence, each cutting every piece of the
/// previous step into its matches and the stretches between them (HF "Split" with behavior "Isolated").
/// </summary>
/// <remarks>
/// Hugging Face matches on code points, .NET's Regex on UTF-16 units, so "\p{L}" would never match an astral letter
/// (𝐀, 𠀀) written as a surrogate pair, and "\p{N}{1,3}" would count an astral digit twice. We therefore run the
/// regexes on a stand-in text where each astral character is one BMP character of the same Unicode category, and
/// map the cuts back.
///
/// The patterns come from tokenizer.json, which may be hostile: a pattern such as "(a+)+$" backtracks for seconds on a
/// short text. A pattern .NET can match in linear time (no lookarounds or backreferences) runs on the non-backtracking
/// engine; the others (every real pattern has GPT-2's "\s+(?!\S)") backtrack under <see cref="MatchTimeout"/>, and a
/// pattern that exceeds it on one of the probe texts is refused when the tokenizer loads.
/// </remarks>
public sealed class SplitPreTokenizer
{
    /// <summary>GPT-2's pattern, used when a ByteLevel pre-tokenizer has "use_regex": true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2/Qwen3's pattern (GPT-4 style, digits one by one): the one our own trained tokenizers use.</summary>
    public const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Longest one match of a backtracking pattern may take; real patterns take microseconds.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    readonly Regex[] regexes;

    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Per pattern: true when it runs on the linear-time engine.</summary>
    public IReadOnlyList<bool> Linear { get; }

    /// <param name="backtrackingOnly">Every pattern on the backtracking engine: the reference the tests compare the
    /// linear-time engine with.</param>
    /// <exception cref="ArgumentException">A pattern .NET's Regex cannot parse.</exception>
    /// <exception cref="R1Error">A pattern backtracks past <see cref="MatchTimeout"/> on a probe text.</exception>
    public SplitPreTokenizer(IReadOnlyList<string> patterns, bool backtrackingOnly = false)
    {
        Patterns = patterns;
        regexes = patterns.Select(p => backtrackingOnly ? Backtracking(p) : LinearOrBacktracking(p)).ToArray();
        Linear = regexes.Select(r => (r.Options & RegexOptions.NonBacktracking) != 0).ToArray();
        Probe();
    }

    static Regex LinearOrBacktracking(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
        }
        catch (NotSupportedException)
        {
            return Backtracking(pattern);
        }
    }

    static Regex Backtracking(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, MatchTimeout);

    /// <summary>
    /// Runs every pattern over runs of one kind of character ended by another kind, the shape that makes nested
    /// quantifiers backtrack exponentially ("aaaa…a!"), and refuses a pattern that times out on one.
    /// </summary>
    void Probe()
    {
        const string kinds = "aA1 \n'.!中\u0301_";
        foreach (char run in kinds)
            foreach (char end in kinds)
            {
                string probe = new string(run, 64) + end;
                for (int step = 0; step < regexes.Length; step++)
                {
                    try
                    {
                        foreach (ValueMatch _ in regexes[step].EnumerateMatches(probe)) { }
                    }
                    catch (RegexMatchTimeoutException)
                    {
                        throw new R1Error($"pre_tokenizer regex {Show(Patterns[step])} takes over {MatchTimeout.TotalSeconds:0.#} s to match " +
                            $"the probe text {Show(probe[..4] + "…" + probe[^2..])} (64 characters; catastrophic backtracking): refusing the tokenizer");
                    }
                }
            }
    }

    static string Show(string text) =>
        System.Text.Json.JsonSerializer.Serialize(text.Length <= 120 ? text : text[..117] + "...", ShowOptions);

    static readonly System.Text.Json.JsonSerializerOptions ShowOptions =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Appends the pieces of <paramref name="text"/>, as (start, length) in it, to <paramref name="pieces"/>.</summary>
    /// <exception cref="R1Error">A backtracking pattern exceeded <see cref="MatchTimeout"/> on this text.</exception>
    public void Split(string text, List<(int Start, int Length)> pieces)
    {
        try
        {
            SplitAll(text, pieces);
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new R1Error($"the tokenizer's pre_tokenizer regex {Show(e.Pattern)} took over {MatchTimeout.TotalSeconds:0.#} s " +
                "on this text (catastrophic backtracking); the text was not tokenized", e);
        }
    }

    void SplitAll(string text, List<(int Start, int Length)> pieces)
    {
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            SplitFrom(text, 0, text.Length, 0, pieces);
            return;
        }
        (string standIn, int[] toOriginal) = StandIn(text);
        int first = pieces.Count;
        SplitFrom(standIn, 0, standIn.Length, 0, pieces);
        for (int k = first; k < pieces.Count; k++)
        {
            (int start, int length) = pieces[k];
            pieces[k] = (toOriginal[start], toOriginal[start + length] - toOriginal[start]);
        }
    }

    void SplitFrom(string text, int start, int length, int step, List<(int Start, int Length)> pieces)
    {
        if (step == regexes.Length)
        {
            pieces.Add((start, length));
            return;
        }
        int at = start;
        // Each piece is matched on its own, as in HF: lookarounds do not see past its ends.
        foreach (ValueMatch m in regexes[step].EnumerateMatches(text.AsSpan(start, length)))
        {
            if (m.Length == 0) continue;
            int matchStart = start + m.Index;
            if (matchStart > at) SplitFrom(text, at, matchStart - at, step + 1, pieces);
            SplitFrom(text, matchStart, m.Length, step + 1, pieces);
            at = matchStart + m.Length;
        }
        if (at < start + length) SplitFrom(text, at, start + length - at, step + 1, pieces);
    }

    static (string StandIn, int[] ToOriginal) StandIn(string text)
    {
        var chars = new char[text.Length];
        var toOriginal = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            toOriginal[n] = i;
            if (char.IsSurrogatePair(text, i))
            {
                chars[n] = SameCategoryBmpChar(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text, i)));
                i += 2;
            }
            else
            {
                // A lone surrogate becomes U+FFFD in UTF-8, an OtherSymbol.
                chars[n] = char.IsSurrogate(text[i]) ? '\uFFFD' : text[i];
                i++;
            }
        }
        toOriginal[n] = text.Length;
        return (new string(chars, 0, n), toOriginal[..(n + 1)]);
    }

    /// <summary>A BMP character of the category, chosen outside ASCII, CJK and the case-folds of "'s|'t|…" patterns.</summary>
    static char SameCategoryBmpChar(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u0391',
        UnicodeCategory.LowercaseLetter => '\u03B1',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.SpaceSeparator => '\u2000',
        UnicodeCategory.LineSeparator => '\u2028',
        UnicodeCategory.ParagraphSeparator => '\u2029',
        UnicodeCategory.Control => '\u0080',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u00A6',
        _ => '\u0378', // unassigned
    };
}
