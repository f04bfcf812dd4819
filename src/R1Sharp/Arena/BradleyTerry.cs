namespace R1Sharp.Arena;

/// <summary>The battles between contestants <see cref="I"/> &lt; <see cref="J"/>, deduplicated: how many, and
/// <see cref="I"/>'s score in them (its wins plus half the ties).</summary>
public readonly record struct PairTally(int I, int J, double Battles, double ScoreOfI);

/// <summary>
/// Bradley–Terry ratings by maximum likelihood, as LMArena computes them: P(i beats j) = 1 / (1 + 10^((R_j − R_i)/400)),
/// a logistic regression on the battles in which a tie counts half a win each way. Fitted by Newton's method (with a
/// backtracking line search) on the deduplicated pair tallies, so the cost depends on the pairs, not the battles.
/// <para>
/// A small L2 prior — each rating normal around the mean with a standard deviation of <see cref="PriorSdElo"/> points —
/// keeps every rating finite: without it a contestant that never wins would be pushed to −∞, and contestants with no
/// battle linking them would have no defined difference. It weighs as much as about a tenth of one even battle, so
/// ratings with real data barely move. The prior also fixes the free constant: the ratings' mean is
/// <see cref="MeanRating"/>.
/// </para>
/// </summary>
public static class BradleyTerry
{
    /// <summary>Elo points per factor of 10 in the odds of winning.</summary>
    public const double EloPerDecade = 400;
    public const double MeanRating = 1000;
    /// <summary>The prior's standard deviation, in rating points.</summary>
    public const double PriorSdElo = 1000;

    /// <summary>The prior's L2 weight on ratings in units of <see cref="EloPerDecade"/> points: 1 / σ² = 0.16.</summary>
    public const double L2 = EloPerDecade * EloPerDecade / (PriorSdElo * PriorSdElo);

    const int MaxIterations = 200;

    /// <summary>The ratings of <paramref name="models"/> contestants (Elo scale, mean <see cref="MeanRating"/>).</summary>
    public static double[] Fit(int models, IReadOnlyList<PairTally> tallies)
    {
        var r = new double[models]; // in units of 400 points, mean 0 at the optimum
        var gradient = new double[models];
        var hessian = new double[models, models];
        double loss = Loss(r, tallies);
        for (int iteration = 0; iteration < MaxIterations; iteration++)
        {
            Derivatives(r, tallies, gradient, hessian);
            var step = SolvePositiveDefinite(hessian, gradient.Select(g => -g).ToArray());
            double slope = step.Zip(gradient, (s, g) => s * g).Sum();
            if (-slope < 1e-20) break; // the Newton decrement is nil: at the optimum
            // Backtracking (Armijo): the objective is convex, so a step that does not decrease it enough is only too long.
            double t = 1, next;
            var trial = new double[models];
            while (true)
            {
                for (int i = 0; i < models; i++) trial[i] = r[i] + t * step[i];
                next = Loss(trial, tallies);
                if (next <= loss + 1e-4 * t * slope || t < 1e-10) break;
                t /= 2;
            }
            double moved = step.Max(s => Math.Abs(t * s));
            Array.Copy(trial, r, models);
            loss = next;
            if (moved < 1e-12) break;
        }
        return r.Select(x => x * EloPerDecade + MeanRating).ToArray();
    }

    /// <summary>Negative log-likelihood plus the prior, on ratings <paramref name="r"/> in 400-point units.</summary>
    public static double Loss(double[] r, IReadOnlyList<PairTally> tallies)
    {
        double loss = 0;
        foreach (var t in tallies)
        {
            double d = Math.Log(10) * (r[t.I] - r[t.J]);
            loss += t.ScoreOfI * Softplus(-d) + (t.Battles - t.ScoreOfI) * Softplus(d);
        }
        foreach (double x in r) loss += L2 / 2 * x * x;
        return loss;
    }

    static void Derivatives(double[] r, IReadOnlyList<PairTally> tallies, double[] gradient, double[,] hessian)
    {
        int n = r.Length;
        double c = Math.Log(10);
        Array.Clear(hessian);
        for (int i = 0; i < n; i++)
        {
            gradient[i] = L2 * r[i];
            hessian[i, i] = L2;
        }
        foreach (var t in tallies)
        {
            double p = Sigmoid(c * (r[t.I] - r[t.J])); // P(I beats J)
            double g = c * (t.Battles * p - t.ScoreOfI), h = c * c * t.Battles * p * (1 - p);
            gradient[t.I] += g;
            gradient[t.J] -= g;
            hessian[t.I, t.I] += h;
            hessian[t.J, t.J] += h;
            hessian[t.I, t.J] -= h;
            hessian[t.J, t.I] -= h;
        }
    }

    /// <summary>Solves A x = b for a symmetric positive definite A (Cholesky); the prior makes the Hessian so.</summary>
    static double[] SolvePositiveDefinite(double[,] a, double[] b)
    {
        int n = b.Length;
        var l = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i, j];
                for (int k = 0; k < j; k++) sum -= l[i, k] * l[j, k];
                l[i, j] = i == j ? Math.Sqrt(Math.Max(sum, 1e-300)) : sum / l[j, j];
            }
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double sum = b[i];
            for (int k = 0; k < i; k++) sum -= l[i, k] * y[k];
            y[i] = sum / l[i, i];
        }
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double sum = y[i];
            for (int k = i + 1; k < n; k++) sum -= l[k, i] * x[k];
            x[i] = sum / l[i, i];
        }
        return x;
    }

    static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>log(1 + e^x) without overflow.</summary>
    static double Softplus(double x) => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x));
}
