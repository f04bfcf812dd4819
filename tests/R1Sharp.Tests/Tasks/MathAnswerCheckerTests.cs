using R1Sharp.Tasks.Answers;

namespace R1Sharp.Tests.Tasks;

public class MathAnswerCheckerTests
{
    readonly MathAnswerChecker _checker = new();

    /// <summary>Ways to write the integer n that any grader should accept.</summary>
    static IEnumerable<string> Formattings(long n)
    {
        string plain = n.ToString();
        string grouped = n.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture);
        yield return plain;
        yield return grouped;
        yield return grouped.Replace(",", "{,}");
        yield return grouped.Replace(",", "\\,");
        yield return plain + ".0";
        yield return plain + ".00";
        yield return $"${plain}$";
        yield return $"\\({grouped}\\)";
        yield return $"{plain} \\text{{ dollars}}";
        yield return $"{grouped} apples";
        yield return $"\\text{{{plain}}}";
        yield return $"\\frac{{{2 * n}}}{{2}}";
        yield return $"{plain}/1";
        yield return $"{plain}e0";
        yield return $"{n * 10}e-1";
        yield return $"{n * 100} \\times 10^{{-2}}";
        yield return $"\\dfrac{{{3 * n}}}{{3}}";
        if (n >= 0) yield return $"+{plain}";
        if (n >= 0) yield return $"\\${grouped}";
        if (n < 0) yield return "−" + (-n);
        if (n < 0) yield return $"-({-n})";
    }

    static IEnumerable<string> Wrappings(string answer)
    {
        yield return answer;
        yield return $"\\boxed{{{answer}}}";
        yield return $"<think>\nwork\n</think>\nThe final answer is $\\boxed{{{answer}}}$.";
        yield return $"The answer is {answer}.";
        yield return $"Step one.\n#### {answer}";
        yield return $"<answer>{answer}</answer>";
    }

    static IEnumerable<long> RandomIntegers(int seed)
    {
        var random = new Random(seed);
        yield return 0;
        yield return 1;
        yield return -1;
        for (int i = 0; i < 40; i++)
        {
            long magnitude = (long)Math.Pow(10, random.Next(1, 13));
            long n = random.NextInt64(magnitude);
            yield return random.Next(4) == 0 ? -n : n;
        }
    }

    [Fact]
    public void Every_formatting_of_an_integer_equals_it()
    {
        foreach (long n in RandomIntegers(1))
            foreach (var formatted in Formattings(n))
                foreach (var completion in Wrappings(formatted))
                    Assert.True(_checker.IsCorrect(completion, n.ToString()), $"'{completion}' should equal {n}");
    }

    [Fact]
    public void No_formatting_of_an_integer_equals_its_successor()
    {
        foreach (long n in RandomIntegers(2))
            foreach (var formatted in Formattings(n))
            {
                Assert.False(_checker.IsCorrect($"\\boxed{{{formatted}}}", (n + 1).ToString()), $"'{formatted}' must not equal {n + 1}");
                Assert.False(_checker.IsCorrect($"\\boxed{{{n + 1}}}", formatted), $"{n + 1} must not equal gold '{formatted}'");
            }
    }

    [Theory]
    [InlineData("Compute: \\boxed{\\frac{1}{\\boxed{2}}} then \\boxed{\\frac{3}{4}}", "\\frac{3}{4}", false)] // nested box is one of several disagreeing answers
    [InlineData("so \\fbox{12}", "12", true)]
    [InlineData("so \\boxed 7 is it", "7", true)]
    [InlineData("\\boxed{\\frac{a+b}{\\sqrt{c^{2}+1}}}", "\\frac{b+a}{\\sqrt{1+c^2}}", true)]  // nested braces
    [InlineData("She needs 5 more. The answer is 5", "5", true)]
    [InlineData("The answer is: 18", "18", true)]
    [InlineData("**Final Answer:** The final answer is $\\frac{2}{3}$. I hope it is correct.", "2/3", true)]
    [InlineData("She has 18 dollars.", "18", true)]
    [InlineData("She has 18 dollars and 3 cents.", "18", false)] // two numbers, nothing marked: no answer
    [InlineData("#### 72", "Natalia sold 24 clips.\n#### 72", true)]
    [InlineData("\\boxed{72}", "The answer is $\\boxed{72}$.", true)]
    public void Extracts_the_marked_final_answer(string completion, string gold, bool expected) =>
        Assert.Equal(expected, _checker.IsCorrect(completion, gold));

    [Theory]
    [InlineData("\\boxed{3}", "3")]
    [InlineData("\\boxed{\\frac12}", "1/2")]
    [InlineData("The answer is 0.5.", "1/2")]
    [InlineData("\\boxed{\\sqrt{2}}", "1.41421356237")]
    [InlineData("\\boxed{x = 5}", "5")]
    public void Vote_keys_agree_for_answers_that_grade_the_same(string completion, string key) =>
        Assert.Equal(key, _checker.VoteKey(completion));

    [Fact]
    public void Vote_key_is_null_without_a_single_answer()
    {
        Assert.Null(_checker.VoteKey("\\boxed{1} \\boxed{2}"));
        Assert.Null(_checker.VoteKey("<think>\\boxed{1}</think>"));
        Assert.Equal(_checker.VoteKey("\\boxed{\\text{Tuesday}}"), _checker.VoteKey("The answer is Tuesday."));
    }

    [Fact]
    public void Template_opened_think_means_text_before_the_close_tag_is_reasoning()
    {
        Assert.True(_checker.IsCorrect("I add them.\n</think>\n\\boxed{5}", "5", templateOpenedThink: true));
        Assert.False(_checker.IsCorrect("I add them, \\boxed{5}", "5", templateOpenedThink: true));
        Assert.True(_checker.IsCorrect("I add them, \\boxed{5}", "5", templateOpenedThink: false));
    }

    [Fact]
    public void Adversarial_expressions_finish_quickly_and_grade_wrong()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(_checker.IsCorrect("\\boxed{9^{9^{9^{9}}}}", "3"));
        // Nested deeper than the parser reads (200 levels): unreadable, so wrong, and no stack overflow.
        Assert.False(_checker.IsCorrect("\\boxed{" + new string('(', 400) + "1" + new string(')', 400) + "}", "1"));
        Assert.True(_checker.IsCorrect("\\boxed{" + new string('(', 20) + "1" + new string(')', 20) + "}", "1"));
        Assert.False(_checker.IsCorrect("\\boxed{1000!}", "3"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Comparison_respects_its_time_limit()
    {
        var instant = new MathAnswerChecker(new MathCheckerOptions { TimeLimit = TimeSpan.Zero });
        Assert.False(instant.AreEquivalent("x^2-1", "(x-1)(x+1)"));
        Assert.True(_checker.AreEquivalent("x^2-1", "(x-1)(x+1)"));
    }
}
