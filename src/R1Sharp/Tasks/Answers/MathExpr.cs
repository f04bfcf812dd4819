namespace R1Sharp.Tasks.Answers;

/// <summary>
/// A parsed answer: a number or expression, or a structure of them (tuple, interval, set, union, relation).
/// Produced by <see cref="MathParser"/>; compared by <see cref="AnswerEquivalence"/>.
/// </summary>
public abstract record MathExpr
{
    public sealed record Number(Rational Value) : MathExpr;
    /// <summary>
    /// A numeral in a stated base, "1011_2" or "4210_{5}": Digits without leading zeros. It is compared by digits and
    /// base, never by value, so "42" (52_8 in base ten) does not answer a question that asked for base 8.
    /// </summary>
    public sealed record BasedNumber(string Digits, int Base) : MathExpr;
    /// <summary>"pi", "e" or "inf".</summary>
    public sealed record Constant(string Name) : MathExpr;
    public sealed record Variable(string Name) : MathExpr;
    public sealed record Negate(MathExpr Operand) : MathExpr;
    /// <summary>Op is one of + - * / ^ and ± (expanded into a set of two answers before comparison).</summary>
    public sealed record Binary(char Op, MathExpr Left, MathExpr Right) : MathExpr;
    /// <summary>A named function: sqrt, sin, cos, ..., ln, abs, factorial.</summary>
    public sealed record Call(string Function, MathExpr Argument) : MathExpr;
    public sealed record Root(MathExpr Degree, MathExpr Radicand) : MathExpr;
    /// <summary>"25\%": kept apart so 25% can match 25 and 0.25.</summary>
    public sealed record Percent(MathExpr Operand) : MathExpr;
    /// <summary>Ordered items in brackets: tuples "(1, 2)", intervals "[0, 1)", vectors, and matrices (Open = 'M').</summary>
    public sealed record Bracketed(char Open, char Close, IReadOnlyList<MathExpr> Items) : MathExpr;
    /// <summary>Items whose order doesn't matter: "\{1, 2\}", or a bare list "1, 2" (MATH's "enter all solutions").</summary>
    public sealed record SetOf(IReadOnlyList<MathExpr> Items) : MathExpr;
    public sealed record Union(IReadOnlyList<MathExpr> Items) : MathExpr;
    /// <summary>Op is one of = &lt; &gt; ≤ ≥ ≠ ∈.</summary>
    public sealed record Relation(char Op, MathExpr Left, MathExpr Right) : MathExpr;
}
