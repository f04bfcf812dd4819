using System.Text;

namespace R1Sharp.Tasks.Synthetic;

public sealed record ArithmeticOptions : SyntheticOptions
{
    /// <summary>Fewest digits of the larger operand. Default 1.</summary>
    public int MinDigits { get; init; } = 1;

    /// <summary>Most digits of the larger operand (train and test). Default 3.</summary>
    public int MaxDigits { get; init; } = 3;

    /// <summary>The harder split uses MaxDigits+1 … MaxDigits+HarderExtraDigits digits. Default 2.</summary>
    public int HarderExtraDigits { get; init; } = 2;

    /// <summary>Most digits of a multiplier (more makes worked solutions long). Default 2; the harder split adds 1.</summary>
    public int MaxMultiplierDigits { get; init; } = 2;

    /// <summary>Operations to draw from, any of "+-*". Default "+-*".</summary>
    public string Operations { get; init; } = "+-*";
}

/// <summary>
/// Multi-digit addition, subtraction and multiplication. Worked solutions go digit by digit with explicit carries
/// and borrows, in short regular lines a tiny model can learn:
/// "7+6=13, write 3 carry 1". The answer after &lt;/think&gt; is the plain number.
/// </summary>
public sealed class ArithmeticTask : SyntheticTask
{
    readonly ArithmeticOptions _options;

    /// <param name="name">The task's name in reports and prompt ids (the quickstart's addition task is "quickstart").</param>
    public ArithmeticTask(ArithmeticOptions? options = null, string name = "arithmetic") : base(name, options ?? new ArithmeticOptions())
    {
        _options = options ?? new ArithmeticOptions();
        if (_options.MinDigits < 1 || _options.MaxDigits < _options.MinDigits || _options.MaxDigits > 15)
            throw new R1Error($"arithmetic: digits must satisfy 1 <= MinDigits <= MaxDigits <= 15, got {_options.MinDigits}..{_options.MaxDigits}");
        if (_options.Operations.Length == 0 || _options.Operations.Any(op => op is not ('+' or '-' or '*')))
            throw new R1Error($"arithmetic: Operations must be made of + - *, got \"{_options.Operations}\"");
    }

    protected override SyntheticProblem Generate(Random random, bool harder)
    {
        int digits = harder
            ? random.Next(_options.MaxDigits + 1, _options.MaxDigits + _options.HarderExtraDigits + 1)
            : random.Next(_options.MinDigits, _options.MaxDigits + 1);
        char op = _options.Operations[random.Next(_options.Operations.Length)];
        int otherDigits = random.Next(1, digits + 1);
        if (op == '*') otherDigits = Math.Min(otherDigits, _options.MaxMultiplierDigits + (harder ? 1 : 0));
        long a = RandomWithDigits(random, digits), b = RandomWithDigits(random, otherDigits);
        if (random.Next(2) == 0) (a, b) = (b, a);

        var (reasoning, result) = op switch
        {
            '+' => Add(a, b),
            '-' => Subtract(a, b),
            _ => Multiply(a, b),
        };
        string problem = $"{a}{op}{b}";
        return new SyntheticProblem(problem, $"What is {problem}?", result.ToString(), digits, reasoning, result.ToString());
    }

    static int Digit(long n, int position) => (int)(n / (long)Math.Pow(10, position) % 10);
    static int DigitCount(long n) => n == 0 ? 1 : (int)Math.Floor(Math.Log10(n)) + 1;

    /// <summary>Column addition from the right; the last column writes its whole sum.</summary>
    static (string, long) Add(long a, long b)
    {
        var lines = new StringBuilder();
        int columns = Math.Max(DigitCount(a), DigitCount(b));
        int carry = 0;
        for (int i = 0; i < columns; i++)
        {
            int x = Digit(a, i), y = Digit(b, i), sum = x + y + carry;
            lines.Append($"{x}+{y}{(carry > 0 ? $"+{carry}" : "")}={sum}, write ");
            if (i == columns - 1) lines.Append(sum);
            else lines.Append(sum % 10).Append(sum >= 10 ? " carry 1" : "");
            lines.Append('\n');
            carry = sum / 10;
        }
        return (lines.ToString().TrimEnd(), a + b);
    }

    /// <summary>Column subtraction from the right with borrows; a smaller minuend is swapped and the result negated.</summary>
    static (string, long) Subtract(long a, long b)
    {
        var lines = new StringBuilder();
        if (a < b) lines.Append($"{b}>{a}, so compute {b}-{a} and negate\n");
        long top = Math.Max(a, b), bottom = Math.Min(a, b);
        int borrow = 0;
        for (int i = 0; i < DigitCount(top); i++)
        {
            int x = Digit(top, i), y = Digit(bottom, i);
            bool borrowNow = x - borrow < y;
            int difference = (borrowNow ? 10 : 0) + x - borrow - y;
            lines.Append($"{(borrowNow ? "1" : "")}{x}{(borrow > 0 ? "-1" : "")}-{y}={difference}, write {difference}");
            lines.Append(borrowNow ? " borrow 1\n" : "\n");
            borrow = borrowNow ? 1 : 0;
        }
        long result = a - b;
        lines.Append($"{a}-{b}={result}");
        return (lines.ToString(), result);
    }

    /// <summary>Long multiplication: one digit-by-digit partial product per multiplier digit, then their sum.</summary>
    static (string, long) Multiply(long a, long b)
    {
        // Multiply by the shorter number so there are few partial products.
        if (DigitCount(b) > DigitCount(a)) (a, b) = (b, a);
        var lines = new StringBuilder();
        var partials = new List<long>();
        for (int j = 0; j < DigitCount(b); j++)
        {
            int m = Digit(b, j);
            if (m == 0 && DigitCount(b) > 1) continue; // a zero digit adds nothing
            long shift = (long)Math.Pow(10, j);
            lines.Append($"{a}*{m}:\n");
            int carry = 0;
            int columns = DigitCount(a);
            for (int i = 0; i < columns; i++)
            {
                int x = Digit(a, i), product = x * m + carry;
                lines.Append($"{x}*{m}{(carry > 0 ? $"+{carry}" : "")}={product}, write ");
                lines.Append(i == columns - 1 ? $"{product}" : $"{product % 10}{(product >= 10 ? $" carry {product / 10}" : "")}").Append('\n');
                carry = product / 10;
            }
            long partial = a * m * shift;
            lines.Append(shift == 1 ? $"{a}*{m}={partial}\n" : $"{a}*{m}={a * m}, so {a}*{m * shift}={partial}\n");
            partials.Add(partial);
        }
        long sum = partials[0];
        foreach (var partial in partials.Skip(1))
        {
            lines.Append($"{sum}+{partial}={sum + partial}\n");
            sum += partial;
        }
        return (lines.ToString().TrimEnd(), a * b);
    }
}
