namespace R1Sharp.Tasks.Answers;

/// <summary>Limits of <see cref="MathAnswerChecker"/>; past any of them an answer grades as wrong.</summary>
public sealed record MathCheckerOptions
{
    /// <summary>Time for one comparison (parsing, exact and numeric evaluation). Default 1 s.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest completion graded at all (about 50k tokens); longer ones are degenerate. Default 200,000 chars.</summary>
    public int MaxCompletionChars { get; init; } = 200_000;

    /// <summary>Longest answer part (the text after &lt;/think&gt;) searched for an answer. Default 20,000 chars.</summary>
    public int MaxAnswerPartChars { get; init; } = 20_000;

    /// <summary>Longest single extracted answer; a box stuffed with candidates is longer. Default 1,000 chars.</summary>
    public int MaxAnswerChars { get; init; } = 1_000;
}
