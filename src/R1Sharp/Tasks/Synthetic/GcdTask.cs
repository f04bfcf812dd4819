namespace R1Sharp.Tasks.Synthetic;

public sealed record GcdOptions : SyntheticOptions
{
    /// <summary>Fewest digits of the numbers. Default 2.</summary>
    public int MinDigits { get; init; } = 2;

    /// <summary>Most digits of the numbers (train/test); the harder split uses MaxDigits+1 … MaxDigits+2. Default 3.</summary>
    public int MaxDigits { get; init; } = 3;
}

/// <summary>
/// Greatest common divisor of two numbers, solved by Euclid's algorithm: one "a=q*b+r" line per step. Half the
/// pairs share a planted common factor so the answer isn't usually 1.
/// </summary>
public sealed class GcdTask : SyntheticTask
{
    readonly GcdOptions _options;

    public GcdTask(GcdOptions? options = null) : base("gcd", options ?? new GcdOptions())
    {
        _options = options ?? new GcdOptions();
        if (_options.MinDigits < 1 || _options.MaxDigits < _options.MinDigits || _options.MaxDigits > 15)
            throw new R1Error($"gcd: digits must satisfy 1 <= MinDigits <= MaxDigits <= 15, got {_options.MinDigits}..{_options.MaxDigits}");
    }

    protected override SyntheticProblem Generate(Random random, bool harder)
    {
        int digits = harder ? random.Next(_options.MaxDigits + 1, _options.MaxDigits + 3) : random.Next(_options.MinDigits, _options.MaxDigits + 1);
        long a = 0, b = 0, limit = (long)Math.Pow(10, digits);
        while (a < 1 || b < 1 || a >= limit || b >= limit)
        {
            a = RandomWithDigits(random, digits);
            b = RandomWithDigits(random, random.Next(1, digits + 1));
            if (random.Next(2) == 0)
            {
                // Plant a common factor (rounding down keeps the digit count unless the number gets too small).
                long factor = random.Next(2, 13);
                a = Math.Max(1, a / factor) * factor;
                b = Math.Max(1, b / factor) * factor;
            }
        }

        var steps = new List<string>();
        long x = Math.Max(a, b), y = Math.Min(a, b);
        while (y != 0)
        {
            steps.Add($"{x}={x / y}*{y}+{x % y}");
            (x, y) = (y, x % y);
        }
        steps.Add($"gcd={x}");
        return new SyntheticProblem($"gcd({Math.Min(a, b)},{Math.Max(a, b)})", $"What is the greatest common divisor of {a} and {b}?",
            x.ToString(), digits, string.Join("\n", steps), x.ToString());
    }
}
