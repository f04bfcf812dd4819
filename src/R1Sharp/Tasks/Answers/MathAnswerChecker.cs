using System.Globalization;
using System.Text.RegularExpressions;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// Grades a completion against a gold answer the way a careful human would for GSM8K / MATH, and so that it
/// can't be gamed: only the answer part after &lt;/think&gt; is read; several final answers that disagree, an
/// empty answer, an answer longer than <see cref="MathCheckerOptions.MaxAnswerChars"/> or a completion past
/// <see cref="MathCheckerOptions.MaxCompletionChars"/> grade as wrong; and the gold decides what shape of
/// answer is acceptable (see <see cref="AnswerEquivalence"/>).
/// </summary>
public sealed partial class MathAnswerChecker(MathCheckerOptions? options = null)
{
    readonly MathCheckerOptions _options = options ?? new MathCheckerOptions();

    [GeneratedRegex(@"-?\d+(?:,\d{3})*(?:\.\d+)?")] private static partial Regex NumberInText();
    [GeneratedRegex(@"\s+")] private static partial Regex Whitespace();

    /// <summary>Whether the completion's final answer equals the gold answer.</summary>
    /// <param name="gold">A bare answer ("72", "\frac{1}{2}"), or a reference solution ending in \boxed{…} or "#### N".</param>
    public bool IsCorrect(string completion, string gold, bool templateOpenedThink = false)
    {
        var answer = ExtractAnswer(completion, templateOpenedThink);
        return answer is not null && AreEquivalent(answer, GoldAnswer(gold));
    }

    /// <summary>The single final answer of a completion, or null: none, several that disagree, or out of limits.</summary>
    public string? ExtractAnswer(string completion, bool templateOpenedThink = false)
    {
        if (completion.Length > _options.MaxCompletionChars) return null;
        string answerPart = CompletionParts.Parse(completion, templateOpenedThink).Answer;
        if (answerPart.Length == 0 || answerPart.Length > _options.MaxAnswerPartChars) return null;

        var candidates = AnswerExtractor.Candidates(answerPart);
        if (candidates.Count == 0) candidates = BareAnswer(answerPart);
        if (candidates.Count == 0 || candidates.Any(c => string.IsNullOrWhiteSpace(AnswerNormalizer.Clean(c)) || c.Length > _options.MaxAnswerChars))
            return null;
        // Hedging ("\boxed{3} ... \boxed{4}") is not an answer.
        for (int i = 1; i < candidates.Count; i++)
            if (!AreEquivalent(candidates[i], candidates[0])) return null;
        return candidates[^1];
    }

    /// <summary>
    /// With no marked answer, the answer part itself if it is one short mathematical answer ("$\frac{3}{4}$") or
    /// one short text answer ("\text{Monday}", "odd"), else the one number a short sentence states ("She has 18 dollars."), else nothing.
    /// </summary>
    List<string> BareAnswer(string answerPart)
    {
        if (answerPart.Length > 200) return [];
        if (MathParser.TryParse(AnswerNormalizer.Clean(answerPart)) is not null) return [answerPart];
        // A box that failed to close (a cut-off output) is not an answer to fish numbers out of.
        if (answerPart.Contains("\\boxed") || answerPart.Contains("\\fbox")) return [];
        if (AnswerNormalizer.IsShortText(answerPart)) return [answerPart];
        var numbers = NumberInText().Matches(answerPart).Select(m => m.Value).Distinct().ToList();
        return numbers.Count == 1 ? numbers : [];
    }

    /// <summary>The answer in a gold field: the last \boxed{…}, the text after "####", or the whole text.</summary>
    public static string GoldAnswer(string gold)
    {
        var boxed = AnswerExtractor.Boxed(gold);
        if (boxed.Count > 0) return boxed[^1];
        int hashes = gold.LastIndexOf("####", StringComparison.Ordinal);
        return (hashes >= 0 ? gold[(hashes + 4)..] : gold).Trim();
    }

    /// <summary>Whether two bare answers mean the same; <paramref name="gold"/> decides the acceptable shape.</summary>
    public bool AreEquivalent(string answer, string gold)
    {
        if (string.IsNullOrWhiteSpace(gold) || string.IsNullOrWhiteSpace(answer) || answer.Length > _options.MaxAnswerChars) return false;
        try
        {
            string cleanGold = AnswerNormalizer.Clean(gold), cleanAnswer = AnswerNormalizer.Clean(answer);
            // The gold's own words are always right, whatever the parser makes of them. (Spaces are only collapsed,
            // not dropped: "2 1/2" is not "21/2".)
            if (CollapseSpaces(cleanAnswer) == CollapseSpaces(cleanGold)) return true;
            if (AnswerNormalizer.IsMarkedText(gold)) return AnswerNormalizer.TextKey(answer) == AnswerNormalizer.TextKey(gold);
            var deadline = new Deadline(_options.TimeLimit);
            var goldValue = MathParser.TryParse(cleanGold);
            var answerValue = MathParser.TryParse(cleanAnswer);
            deadline.Check();
            if (goldValue is not null && answerValue is not null) return AnswerEquivalence.Equivalent(goldValue, answerValue, deadline);
            // An answer the parser can't read ("Tuesday", "4 096") compares as normalised text.
            string answerText = AnswerNormalizer.TextKey(answer);
            return answerText.Length > 0 && answerText == AnswerNormalizer.TextKey(gold);
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    static string CollapseSpaces(string s) => Whitespace().Replace(s.Trim(), " ");

    /// <summary>
    /// A key equal for answers that grade the same ("0.5", "\frac12", "1/2" → "1/2"), for majority voting;
    /// null when the completion has no single final answer.
    /// </summary>
    public string? VoteKey(string completion, bool templateOpenedThink = false)
    {
        var answer = ExtractAnswer(completion, templateOpenedThink);
        if (answer is null) return null;
        string cleaned = AnswerNormalizer.Clean(answer);
        if (MathParser.TryParse(cleaned) is not { } value) return "text:" + AnswerNormalizer.TextKey(answer);
        // "x = 5" and "5" grade the same, so they vote together.
        if (value is MathExpr.Relation { Op: '=', Left: MathExpr.Variable } assignment) value = assignment.Right;
        try
        {
            var deadline = new Deadline(_options.TimeLimit);
            var variables = new HashSet<string>();
            MathEvaluator.CollectVariables(value, variables);
            if (variables.Count == 0 && MathEvaluator.IsScalar(value))
            {
                if (MathEvaluator.Exact(value, deadline) is { } exact) return exact.ToString();
                double numeric = MathEvaluator.Numeric(value, new Dictionary<string, double>(), deadline);
                if (double.IsFinite(numeric)) return MathEvaluator.FormatDouble(numeric);
            }
        }
        catch (TimeoutException)
        {
        }
        return MathEvaluator.Print(value);
    }
}

/// <summary>
/// How the checker's grades agree with labelled pairs ("expected": true|false, as in a checker corpus): a false accept
/// is a wrong answer graded right, a false reject a right answer graded wrong.
/// </summary>
public sealed class CheckerAgreement
{
    public int Pairs { get; private set; }
    public int MustPass { get; private set; }
    public int FalseAccepts { get; private set; }
    public int FalseRejects { get; private set; }
    public int MustFail => Pairs - MustPass;
    public double Share => Pairs == 0 ? 0 : (double)(Pairs - FalseAccepts - FalseRejects) / Pairs;

    /// <summary>Counts one pair; true when the grade agrees with its label.</summary>
    public bool Add(bool expected, bool graded)
    {
        Pairs++;
        if (expected) MustPass++;
        if (graded && !expected) FalseAccepts++;
        if (expected && !graded) FalseRejects++;
        return graded == expected;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"agreement {100 * Share:F2}% on {Pairs} labelled pairs ({MustPass} must pass, {MustFail} must fail): {FalseAccepts} false accepts, {FalseRejects} false rejects");
}
