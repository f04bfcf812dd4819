using R1Sharp.Tasks.Answers;

namespace R1Sharp.Tasks.Synthetic;

public sealed record CountdownOptions : SyntheticOptions
{
    /// <summary>Fewest numbers given. Default 3.</summary>
    public int MinNumbers { get; init; } = 3;

    /// <summary>Most numbers given (train/test); the harder split gives one more. Default 4.</summary>
    public int MaxNumbers { get; init; } = 4;

    /// <summary>Numbers are drawn from 1..LargestNumber. Default 25.</summary>
    public int LargestNumber { get; init; } = 25;

    /// <summary>Targets lie in 1..MaxTarget. Default 1000.</summary>
    public int MaxTarget { get; init; } = 1000;
}

/// <summary>
/// Countdown: reach a target from given numbers with + − × ÷, each number used at most once. Every problem is
/// built from a random expression over all its numbers (integer steps only), so it always has a solution; that
/// expression is the reference answer. A completion's expression is read by <see cref="MathParser"/> (a parser,
/// never an evaluator of code) and must use only the given numbers and equal the target exactly.
/// </summary>
public sealed class CountdownTask : SyntheticTask
{
    readonly CountdownOptions _options;

    public CountdownTask(CountdownOptions? options = null) : base("countdown", options ?? new CountdownOptions())
    {
        _options = options ?? new CountdownOptions();
        if (_options.MinNumbers < 2 || _options.MaxNumbers < _options.MinNumbers || _options.LargestNumber < 2)
            throw new R1Error($"countdown: need 2 <= MinNumbers <= MaxNumbers and LargestNumber >= 2, got {_options.MinNumbers}..{_options.MaxNumbers}, {_options.LargestNumber}");
    }

    /// <summary>A partial expression: its text, value, and precedence (1: + −, 2: × ÷, 3: a number).</summary>
    sealed record Node(string Text, long Value, int Precedence);

    protected override SyntheticProblem Generate(Random random, bool harder)
    {
        int count = harder ? _options.MaxNumbers + 1 : random.Next(_options.MinNumbers, _options.MaxNumbers + 1);
        while (true)
        {
            var numbers = Enumerable.Range(0, count).Select(_ => (long)random.Next(1, _options.LargestNumber + 1)).ToList();
            var nodes = numbers.Select(n => new Node(n.ToString(), n, 3)).ToList();
            var steps = new List<string>();
            while (nodes.Count > 1 && Combine(random, nodes, steps)) { }
            if (nodes.Count > 1 || nodes[0].Value < 1 || nodes[0].Value > _options.MaxTarget) continue;

            long target = nodes[0].Value;
            var sorted = numbers.Order().ToList();
            var shown = numbers.OrderBy(_ => random.Next()).ToList();
            string question = $"Using the numbers {string.Join(", ", shown)}, make {target}. "
                + "You may use +, -, *, / and each number at most once. Answer with the expression.";
            return new SyntheticProblem($"{string.Join(",", sorted)}->{target}", question, nodes[0].Text, count,
                string.Join("\n", steps), nodes[0].Text);
        }
    }

    /// <summary>Replaces two random nodes by one combining them, keeping every step a positive integer; false if no op fits.</summary>
    static bool Combine(Random random, List<Node> nodes, List<string> steps)
    {
        int i = random.Next(nodes.Count), j = random.Next(nodes.Count - 1);
        if (j >= i) j++;
        Node left = nodes[i], right = nodes[j];
        var ops = new List<char> { '+', '*' };
        if (left.Value > right.Value) ops.Add('-');
        if (right.Value > 1 && left.Value % right.Value == 0) ops.Add('/');
        char op = ops[random.Next(ops.Count)];
        long value = op switch { '+' => left.Value + right.Value, '-' => left.Value - right.Value, '*' => left.Value * right.Value, _ => left.Value / right.Value };
        if (value > 1_000_000) return false;
        int precedence = op is '+' or '-' ? 1 : 2;
        string leftText = left.Precedence < precedence ? $"({left.Text})" : left.Text;
        // a-(b+c) and a/(b*c) need brackets on the right even at equal precedence.
        string rightText = right.Precedence < precedence || (right.Precedence == precedence && op is '-' or '/') ? $"({right.Text})" : right.Text;
        steps.Add($"{left.Value}{op}{right.Value}={value}");
        nodes.RemoveAt(Math.Max(i, j));
        nodes.RemoveAt(Math.Min(i, j));
        nodes.Add(new Node(leftText + op + rightText, value, precedence));
        return true;
    }

    public override bool IsCorrect(string completion, string reference, bool templateOpenedThink = false)
    {
        var expression = ExtractExpression(completion, templateOpenedThink);
        if (expression is null || ReadExpression(reference) is not { } puzzle || ReadExpression(expression) is not { } answer)
            return false;
        var available = puzzle.Numbers.GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
        foreach (var n in answer.Numbers)
            if (!available.TryGetValue(n, out int left) || left == 0) return false;
            else available[n] = left - 1;
        return answer.Value == puzzle.Value;
    }

    public override string? VoteKey(string completion, bool templateOpenedThink = false) =>
        ExtractExpression(completion, templateOpenedThink) is { } e ? new string(e.Where(c => !char.IsWhiteSpace(c)).ToArray()) : null;

    /// <summary>The completion's expression (boxed, tagged, stated, or the whole answer part), without a trailing "= target".</summary>
    static string? ExtractExpression(string completion, bool templateOpenedThink)
    {
        string answerPart = CompletionParts.Parse(completion, templateOpenedThink).Answer;
        if (answerPart.Length is 0 or > 1_000) return null;
        var candidates = AnswerExtractor.Candidates(answerPart);
        if (candidates.Count == 0) candidates = [answerPart];
        if (candidates.Select(c => new string(c.Where(ch => !char.IsWhiteSpace(ch)).ToArray())).Distinct().Count() > 1) return null;
        string expression = candidates[0];
        int equals = expression.IndexOf('=');
        return equals < 0 ? expression : expression[..equals];
    }

    /// <summary>The exact value and the number literals of an expression made only of whole numbers and + − × ÷; null otherwise.</summary>
    static (Rational Value, List<long> Numbers)? ReadExpression(string text)
    {
        if (MathParser.TryParse(AnswerNormalizer.Clean(text)) is not { } tree) return null;
        var numbers = new List<long>();
        var value = Evaluate(tree, numbers);
        return value is null ? null : (value.Value, numbers);
    }

    static Rational? Evaluate(MathExpr expr, List<long> numbers)
    {
        switch (expr)
        {
            case MathExpr.Number { Value: { IsInteger: true, Sign: >= 0 } v } when v.Numerator <= 1_000_000:
                numbers.Add((long)v.Numerator);
                return v;
            case MathExpr.Binary { Op: '+' or '-' or '*' or '/' } b:
                if (Evaluate(b.Left, numbers) is not { } l || Evaluate(b.Right, numbers) is not { } r) return null;
                if (b.Op == '/' && r.IsZero) return null;
                return b.Op switch { '+' => l + r, '-' => l - r, '*' => l * r, _ => l / r };
            default:
                return null;
        }
    }
}
