namespace R1Sharp.Tasks.Synthetic;

public sealed record LinearEquationOptions : SyntheticOptions
{
    /// <summary>Largest |coefficient| and |constant term| in train/test problems. Default 9.</summary>
    public int MaxCoefficient { get; init; } = 9;

    /// <summary>Largest |x| of the (integer) solution. Default 10.</summary>
    public int MaxSolution { get; init; } = 10;

    /// <summary>Share of train/test problems with x on both sides ("3x+5=x+17"); the harder split always has. Default 0.5.</summary>
    public double TwoSidedShare { get; init; } = 0.5;

    /// <summary>The harder split multiplies MaxCoefficient and MaxSolution by this. Default 10.</summary>
    public int HarderScale { get; init; } = 10;
}

/// <summary>
/// Linear equations in x with an integer solution: "3x+5=20" (difficulty 1) or "3x+5=x+17" (difficulty 2).
/// The worked solution moves x terms left and numbers right, then divides; the answer line is "x=5".
/// </summary>
public sealed class LinearEquationTask : SyntheticTask
{
    readonly LinearEquationOptions _options;

    public LinearEquationTask(LinearEquationOptions? options = null) : base("linear", options ?? new LinearEquationOptions())
    {
        _options = options ?? new LinearEquationOptions();
        if (_options.MaxCoefficient < 2 || _options.MaxSolution < 1)
            throw new R1Error($"linear: need MaxCoefficient >= 2 and MaxSolution >= 1, got {_options.MaxCoefficient} and {_options.MaxSolution}");
    }

    protected override SyntheticProblem Generate(Random random, bool harder)
    {
        int scale = harder ? _options.HarderScale : 1;
        int maxCoefficient = _options.MaxCoefficient * scale, maxSolution = _options.MaxSolution * scale;
        bool twoSided = harder || random.NextDouble() < _options.TwoSidedShare;
        int x = random.Next(-maxSolution, maxSolution + 1);
        int a = NonZero(random, maxCoefficient);
        int c = twoSided ? NonZero(random, maxCoefficient) : 0;
        while (c == a) c = NonZero(random, maxCoefficient);
        int b = random.Next(-maxCoefficient, maxCoefficient + 1);
        int d = a * x + b - c * x;

        string equation = $"{Linear(a, b)}={(twoSided ? Linear(c, d) : d.ToString())}";
        var steps = new List<string> { equation };
        int coefficient = a - c, constant = d - b;
        if (twoSided) steps.Add($"{Term(a)}{Signed(-c)}x={d}{Signed(-b)}");
        else if (b != 0) steps.Add($"{Term(a)}={d}{Signed(-b)}");
        steps.Add($"{Term(coefficient)}={constant}");
        if (coefficient != 1) steps.Add($"x={constant}/{(coefficient < 0 ? $"({coefficient})" : coefficient)}");
        steps.Add($"x={x}");
        return new SyntheticProblem(equation, $"Solve for x: {equation}", x.ToString(), twoSided ? 2 : 1,
            string.Join("\n", steps.Distinct()), $"x={x}");
    }

    static int NonZero(Random random, int max)
    {
        int n = random.Next(1, max + 1);
        return random.Next(2) == 0 ? n : -n;
    }

    static string Term(int coefficient) => coefficient switch { 1 => "x", -1 => "-x", _ => $"{coefficient}x" };
    static string Signed(int n) => n < 0 ? $"{n}" : $"+{n}";
    static string Linear(int coefficient, int constant) => Term(coefficient) + (constant == 0 ? "" : Signed(constant));
}
