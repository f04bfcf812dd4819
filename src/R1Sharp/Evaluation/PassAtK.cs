namespace R1Sharp.Evaluation;

/// <summary>The estimators of R1's evaluation protocol, per prompt; <see cref="Evaluator"/> averages them over prompts.</summary>
public static class PassAtK
{
    /// <summary>
    /// Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 − C(n−c, k)/C(n, k),
    /// computed as 1 − Π_{i=n−c+1..n} (1 − k/i) so it stays exact-ish for large n.
    /// </summary>
    public static double Unbiased(int n, int c, int k)
    {
        if (n < 1 || c < 0 || c > n || k < 1 || k > n)
            throw new ArgumentOutOfRangeException(nameof(k), $"pass@k needs 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}");
        if (n - c < k) return 1.0;
        double allWrong = 1.0;
        for (int i = n - c + 1; i <= n; i++) allWrong *= 1.0 - (double)k / i;
        return 1.0 - allWrong;
    }

    /// <summary>The k values reported for n samples: 1, 2, 4, … up to n, and n itself.</summary>
    public static IReadOnlyList<int> ReportedKs(int n)
    {
        var ks = new List<int>();
        for (int k = 1; k <= n; k *= 2) ks.Add(k);
        if (ks[^1] != n) ks.Add(n);
        return ks;
    }
}
