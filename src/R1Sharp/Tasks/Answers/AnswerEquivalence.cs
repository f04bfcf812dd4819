using static R1Sharp.Tasks.Answers.MathExpr;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// Whether a predicted answer means the same as the gold answer. The gold decides the shape: a tuple must
/// match in order, a set in any order, a number by value (exactly when both sides are exact, else within a
/// relative 1e-9), an expression by its values at random points, a numeral in another base by its digits and
/// base. A prediction that carries more than the gold (a tuple of candidates for a number, a variable the gold
/// doesn't have) never matches.
/// </summary>
public static class AnswerEquivalence
{
    const double ConstantTolerance = 1e-9, ExpressionTolerance = 1e-7;
    const int ExpressionPoints = 6;

    public static bool Equivalent(MathExpr gold, MathExpr predicted, Deadline deadline)
    {
        deadline.Check();
        gold = ExpandPlusMinus(gold);
        predicted = ExpandPlusMinus(predicted);
        switch (gold, predicted)
        {
            case (SetOf g, SetOf p): return SameItemsInAnyOrder(g.Items, p.Items, deadline);
            case (Union g, Union p): return SameItemsInAnyOrder(g.Items, p.Items, deadline);
            case (Bracketed g, Bracketed p):
                return g.Open == p.Open && g.Close == p.Close && g.Items.Count == p.Items.Count
                    && g.Items.Zip(p.Items).All(pair => Equivalent(pair.First, pair.Second, deadline));
            case (Relation g, Relation p): return RelationsEqual(g, p, deadline);
            // A base-b gold is met by the same digits, with or without the subscript, and in no other base.
            case (BasedNumber g, BasedNumber p): return g == p;
            case (BasedNumber g, Number { Value: { IsInteger: true, Sign: >= 0 } p }): return p.ToString() == g.Digits;
            case (Number g, BasedNumber { Base: 10 } p): return g.Value.ToString() == p.Digits;
            case (Negate { Operand: BasedNumber } g, Negate p): return Equivalent(g.Operand, p.Operand, deadline);
            // "x = 5" answers "5"; and a gold "x = 5" is answered by "5".
            case (_, Relation { Op: '=' or '∈', Left: Variable } p): return Equivalent(gold, p.Right, deadline);
            case (Relation { Op: '=' or '∈', Left: Variable } g, _): return Equivalent(g.Right, predicted, deadline);
            case (SetOf { Items.Count: 1 } g, _): return Equivalent(g.Items[0], predicted, deadline);
            case (_, SetOf { Items.Count: 1 } p): return Equivalent(gold, p.Items[0], deadline);
            default:
                return MathEvaluator.IsScalar(gold) && MathEvaluator.IsScalar(predicted) && ScalarsEqual(gold, predicted, deadline);
        }
    }

    static bool SameItemsInAnyOrder(IReadOnlyList<MathExpr> gold, IReadOnlyList<MathExpr> predicted, Deadline deadline)
    {
        if (gold.Count != predicted.Count) return false;
        var unmatched = predicted.ToList();
        foreach (var item in gold)
        {
            int match = unmatched.FindIndex(p => Equivalent(item, p, deadline));
            if (match < 0) return false;
            unmatched.RemoveAt(match);
        }
        return true;
    }

    static bool RelationsEqual(Relation g, Relation p, Deadline deadline)
    {
        if (g.Op == p.Op && Equivalent(g.Left, p.Left, deadline) && Equivalent(g.Right, p.Right, deadline)) return true;
        char mirrored = g.Op switch { '<' => '>', '>' => '<', '≤' => '≥', '≥' => '≤', var op => op };
        if (mirrored == p.Op && g.Op != '∈' && Equivalent(g.Left, p.Right, deadline) && Equivalent(g.Right, p.Left, deadline)) return true;
        // "y - 2x = 3" is "y = 2x + 3".
        if (g.Op != '=' || p.Op != '=' || !AllScalar(g, p)) return false;
        var goldDifference = new Binary('-', g.Left, g.Right);
        return ValuesEqual(goldDifference, new Binary('-', p.Left, p.Right), deadline)
            || ValuesEqual(goldDifference, new Binary('-', p.Right, p.Left), deadline);
    }

    static bool AllScalar(Relation g, Relation p) =>
        MathEvaluator.IsScalar(g.Left) && MathEvaluator.IsScalar(g.Right) && MathEvaluator.IsScalar(p.Left) && MathEvaluator.IsScalar(p.Right);

    // "25\%" is answered by 25\%, 25 or 0.25.
    static bool ScalarsEqual(MathExpr gold, MathExpr predicted, Deadline deadline) =>
        ValuesEqual(gold, predicted, deadline)
        || ((gold is Percent || predicted is Percent) && ValuesEqual(WithoutPercent(gold), WithoutPercent(predicted), deadline));

    static MathExpr WithoutPercent(MathExpr e) => e is Percent p ? p.Operand : e;

    static bool ValuesEqual(MathExpr gold, MathExpr predicted, Deadline deadline)
    {
        var goldVariables = new HashSet<string>();
        var predictedVariables = new HashSet<string>();
        MathEvaluator.CollectVariables(gold, goldVariables);
        MathEvaluator.CollectVariables(predicted, predictedVariables);
        if (!predictedVariables.IsSubsetOf(goldVariables)) return false;

        if (goldVariables.Count == 0)
        {
            if (MathEvaluator.Exact(gold, deadline) is { } exactGold && MathEvaluator.Exact(predicted, deadline) is { } exactPredicted)
                return exactGold == exactPredicted;
            var empty = new Dictionary<string, double>();
            return Close(MathEvaluator.Numeric(gold, empty, deadline), MathEvaluator.Numeric(predicted, empty, deadline), ConstantTolerance);
        }

        // Same values at several random points (fixed seed: grading is deterministic).
        var random = new Random(20250122);
        var point = new Dictionary<string, double>();
        int agreed = 0;
        for (int attempt = 0; attempt < 40 && agreed < ExpressionPoints; attempt++)
        {
            foreach (var name in goldVariables)
                point[name] = attempt < 20 ? 0.1 + 2.9 * random.NextDouble() : 6 * random.NextDouble() - 3;
            double g = MathEvaluator.Numeric(gold, point, deadline), p = MathEvaluator.Numeric(predicted, point, deadline);
            if (!double.IsFinite(g) || !double.IsFinite(p)) continue;
            if (!Close(g, p, ExpressionTolerance)) return false;
            agreed++;
        }
        return agreed >= ExpressionPoints / 2;
    }

    static bool Close(double a, double b, double tolerance)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return false;
        if (a == b) return true; // also equal infinities
        if (double.IsInfinity(a) || double.IsInfinity(b)) return false;
        return Math.Abs(a - b) <= tolerance * Math.Max(1e-3, Math.Max(Math.Abs(a), Math.Abs(b)));
    }

    /// <summary>"1 \pm \sqrt{2}" is the set {1 + √2, 1 − √2}.</summary>
    static MathExpr ExpandPlusMinus(MathExpr e)
    {
        if (e is SetOf set && set.Items.Any(HasPlusMinus))
            return new SetOf(set.Items.SelectMany(item => ExpandPlusMinus(item) is SetOf s && HasPlusMinus(item) ? s.Items : [item]).ToList());
        if (!MathEvaluator.IsScalar(e) || !HasPlusMinus(e)) return e;
        var variants = Variants(e);
        return variants.Count <= 8 ? new SetOf(variants) : e;
    }

    static bool HasPlusMinus(MathExpr e) => e switch
    {
        Binary { Op: '±' } => true,
        Binary b => HasPlusMinus(b.Left) || HasPlusMinus(b.Right),
        Negate n => HasPlusMinus(n.Operand),
        Call c => HasPlusMinus(c.Argument),
        Root r => HasPlusMinus(r.Radicand),
        Percent p => HasPlusMinus(p.Operand),
        _ => false,
    };

    static List<MathExpr> Variants(MathExpr e) => e switch
    {
        Binary { Op: '±' } b => [.. Combine(b.Left, b.Right, (l, r) => new Binary('+', l, r)), .. Combine(b.Left, b.Right, (l, r) => new Binary('-', l, r))],
        Binary b => Combine(b.Left, b.Right, (l, r) => new Binary(b.Op, l, r)),
        Negate n => Variants(n.Operand).Select(v => (MathExpr)new Negate(v)).ToList(),
        Call c => Variants(c.Argument).Select(v => (MathExpr)new Call(c.Function, v)).ToList(),
        Root r => Variants(r.Radicand).Select(v => (MathExpr)new Root(r.Degree, v)).ToList(),
        Percent p => Variants(p.Operand).Select(v => (MathExpr)new Percent(v)).ToList(),
        _ => [e],
    };

    static List<MathExpr> Combine(MathExpr left, MathExpr right, Func<MathExpr, MathExpr, MathExpr> make) =>
        Variants(left).SelectMany(l => Variants(right).Select(r => make(l, r))).Take(16).ToList();
}
