using System.Globalization;
using System.Numerics;
using static R1Sharp.Tasks.Answers.MathExpr;

namespace R1Sharp.Tasks.Answers;

/// <summary>Evaluates a scalar <see cref="MathExpr"/> exactly (as a fraction) when it can, else as a double.</summary>
public static class MathEvaluator
{
    // Exact arithmetic stops here: past it an answer like 2^{10^9} would take unbounded time and memory.
    const long MaxExactBits = 100_000;

    /// <summary>The exact value, or null when the expression has variables, irrational parts, or is too big.</summary>
    public static Rational? Exact(MathExpr expr, Deadline deadline)
    {
        deadline.Check();
        switch (expr)
        {
            case Number n: return n.Value;
            case Negate n: return -Exact(n.Operand, deadline);
            case Percent p: return Exact(p.Operand, deadline) / new Rational(100, 1);
            case Binary { Op: '+' or '-' or '*' or '/' } b:
            {
                if (Exact(b.Left, deadline) is not { } l || Exact(b.Right, deadline) is not { } r) return null;
                if (b.Op == '/' && r.IsZero) return null;
                var result = b.Op switch { '+' => l + r, '-' => l - r, '*' => l * r, _ => l / r };
                return result.BitLength > MaxExactBits ? null : result;
            }
            case Binary { Op: '^' } b:
            {
                if (Exact(b.Left, deadline) is not { } baseValue || Exact(b.Right, deadline) is not { } power) return null;
                if (baseValue.IsZero) return power.Sign > 0 ? baseValue : null;
                if (power.IsInteger)
                {
                    if (IsUnit(baseValue)) return power.Numerator.IsEven ? Rational.Pow(baseValue, 2) : baseValue;
                    if (BigInteger.Abs(power.Numerator) > 100_000) return null;
                    int exponent = (int)power.Numerator;
                    if (baseValue.BitLength * (long)Math.Abs(exponent) > MaxExactBits) return null;
                    return Rational.Pow(baseValue, exponent);
                }
                // x^(p/q): exact only for perfect q-th powers, e.g. 8^{2/3} = 4.
                if (power.Denominator > 64 || BigInteger.Abs(power.Numerator) > 64) return null;
                return ExactRoot(baseValue, (int)power.Denominator) is { } root ? Rational.Pow(root, (int)power.Numerator) : null;
            }
            case Call { Function: "sqrt" } c: return Exact(c.Argument, deadline) is { } square ? ExactRoot(square, 2) : null;
            case Call { Function: "abs" } c: return Exact(c.Argument, deadline) is { } inner ? (inner.Sign < 0 ? -inner : inner) : null;
            case Call { Function: "factorial" } c:
            {
                if (Exact(c.Argument, deadline) is not { IsInteger: true } n || n.Sign < 0 || n.Numerator > 2000) return null;
                BigInteger product = 1;
                for (int i = 2; i <= (int)n.Numerator; i++) product *= i;
                return new Rational(product, 1);
            }
            case Call { Function: "binom", Argument: Bracketed { Items: [var top, var bottom] } }:
            {
                if (Exact(top, deadline) is not { IsInteger: true } n || Exact(bottom, deadline) is not { IsInteger: true } k
                    || k.Sign < 0 || (n - k).Sign < 0 || n.Numerator > 10_000) return null;
                BigInteger result = 1;
                for (int i = 1; i <= (int)k.Numerator; i++) result = result * ((int)n.Numerator - (int)k.Numerator + i) / i;
                return new Rational(result, 1);
            }
            case Root r:
                return Exact(r.Degree, deadline) is { IsInteger: true } d && d.Numerator >= 2 && d.Numerator <= 64
                    && Exact(r.Radicand, deadline) is { } radicand ? ExactRoot(radicand, (int)d.Numerator) : null;
            default: return null;
        }
    }

    static bool IsUnit(Rational r) => r.IsInteger && BigInteger.Abs(r.Numerator).IsOne;

    /// <summary>The exact n-th root of a fraction whose numerator and denominator are perfect n-th powers, else null.</summary>
    static Rational? ExactRoot(Rational value, int n)
    {
        if (value.Sign < 0 && n % 2 == 0) return null;
        if (value.BitLength > 4000) return null;
        return IntegerRoot(BigInteger.Abs(value.Numerator), n) is { } num && IntegerRoot(value.Denominator, n) is { } den
            ? new Rational(value.Sign < 0 ? -num : num, den) : null;
    }

    static BigInteger? IntegerRoot(BigInteger value, int n)
    {
        if (value.IsZero || value.IsOne) return value;
        // A double estimate is within a few units for these sizes; search around it.
        var estimate = new BigInteger(Math.Round(Math.Exp(BigInteger.Log(value) / n)));
        for (var candidate = BigInteger.Max(0, estimate - 2); candidate <= estimate + 2; candidate++)
            if (BigInteger.Pow(candidate, n) == value) return candidate;
        return null;
    }

    /// <summary>The value as a double with the given variable values; NaN when undefined or not a scalar.</summary>
    public static double Numeric(MathExpr expr, IReadOnlyDictionary<string, double> variables, Deadline deadline)
    {
        deadline.Check();
        return expr switch
        {
            Number n => n.Value.ToDouble(),
            Constant { Name: "pi" } => Math.PI,
            Constant { Name: "e" } => Math.E,
            Constant { Name: "inf" } => double.PositiveInfinity,
            Variable v => variables.TryGetValue(v.Name, out var x) ? x : double.NaN,
            Negate n => -Numeric(n.Operand, variables, deadline),
            Percent p => Numeric(p.Operand, variables, deadline) / 100,
            Binary b => Apply(b.Op, Numeric(b.Left, variables, deadline), Numeric(b.Right, variables, deadline)),
            Call { Function: "binom" } c => Exact(c, deadline)?.ToDouble() ?? double.NaN,
            Call c => Apply(c.Function, Numeric(c.Argument, variables, deadline)),
            Root r => RealRoot(Numeric(r.Radicand, variables, deadline), Numeric(r.Degree, variables, deadline)),
            _ => double.NaN,
        };
    }

    static double Apply(char op, double l, double r) => op switch
    {
        '+' => l + r,
        '-' => l - r,
        '*' => l * r,
        '/' => r == 0 ? double.NaN : l / r,
        '^' => Power(l, r),
        _ => double.NaN,
    };

    // (-8)^{1/3} = -2: a negative base with a fractional power is real only when the power's denominator is odd.
    static double Power(double l, double r)
    {
        if (l >= 0 || r == Math.Floor(r)) return Math.Pow(l, r);
        for (int q = 3; q <= 15; q += 2)
        {
            double p = Math.Round(r * q);
            if (Math.Abs(r * q - p) > 1e-12) continue;
            double magnitude = Math.Pow(-l, p / q);
            return Math.Abs(p) % 2 == 1 ? -magnitude : magnitude;
        }
        return double.NaN;
    }

    static double RealRoot(double x, double degree)
    {
        if (degree == 0 || double.IsNaN(degree)) return double.NaN;
        if (x >= 0) return Math.Pow(x, 1 / degree);
        return degree % 2 == 1 ? -Math.Pow(-x, 1 / degree) : double.NaN;
    }

    static double Apply(string function, double x) => function switch
    {
        "sqrt" => x < 0 ? double.NaN : Math.Sqrt(x),
        "sin" => Math.Sin(x),
        "cos" => Math.Cos(x),
        "tan" => Math.Tan(x),
        "sec" => 1 / Math.Cos(x),
        "csc" => 1 / Math.Sin(x),
        "cot" => 1 / Math.Tan(x),
        "arcsin" => Math.Asin(x),
        "arccos" => Math.Acos(x),
        "arctan" => Math.Atan(x),
        "sinh" => Math.Sinh(x),
        "cosh" => Math.Cosh(x),
        "tanh" => Math.Tanh(x),
        "ln" => x <= 0 ? double.NaN : Math.Log(x),
        "log" => x <= 0 ? double.NaN : Math.Log10(x),
        "exp" => Math.Exp(x),
        "abs" => Math.Abs(x),
        "factorial" => x >= 0 && x <= 170 && x == Math.Floor(x) ? Factorial((int)x) : double.NaN,
        _ => double.NaN,
    };

    static double Factorial(int n)
    {
        double product = 1;
        for (int i = 2; i <= n; i++) product *= i;
        return product;
    }

    public static void CollectVariables(MathExpr expr, ISet<string> into)
    {
        switch (expr)
        {
            case Variable v: into.Add(v.Name); break;
            case Negate n: CollectVariables(n.Operand, into); break;
            case Percent p: CollectVariables(p.Operand, into); break;
            case Binary b: CollectVariables(b.Left, into); CollectVariables(b.Right, into); break;
            case Call c: CollectVariables(c.Argument, into); break;
            case Root r: CollectVariables(r.Degree, into); CollectVariables(r.Radicand, into); break;
            case Relation r: CollectVariables(r.Left, into); CollectVariables(r.Right, into); break;
            case Bracketed t: foreach (var item in t.Items) CollectVariables(item, into); break;
            case SetOf s: foreach (var item in s.Items) CollectVariables(item, into); break;
            case Union u: foreach (var item in u.Items) CollectVariables(item, into); break;
        }
    }

    public static bool IsScalar(MathExpr expr) => expr is not (Bracketed or SetOf or Union or Relation or BasedNumber);

    /// <summary>Compact text of a value, used where answers must compare as strings (majority voting).</summary>
    public static string Print(MathExpr expr) => expr switch
    {
        Number n => n.Value.ToString(),
        BasedNumber b => $"{b.Digits}_{b.Base}",
        Constant c => c.Name,
        Variable v => v.Name,
        Negate n => $"-({Print(n.Operand)})",
        Percent p => $"({Print(p.Operand)})%",
        Binary b => $"({Print(b.Left)}{b.Op}{Print(b.Right)})",
        Call c => $"{c.Function}({Print(c.Argument)})",
        Root r => $"root({Print(r.Degree)},{Print(r.Radicand)})",
        Bracketed t => $"{t.Open}{string.Join(",", t.Items.Select(Print))}{t.Close}",
        SetOf s => "{" + string.Join(",", s.Items.Select(Print).Order(StringComparer.Ordinal)) + "}",
        Union u => string.Join("U", u.Items.Select(Print).Order(StringComparer.Ordinal)),
        Relation r => $"{Print(r.Left)}{r.Op}{Print(r.Right)}",
        _ => "?",
    };

    internal static string FormatDouble(double value) => value.ToString("G12", CultureInfo.InvariantCulture);
}
