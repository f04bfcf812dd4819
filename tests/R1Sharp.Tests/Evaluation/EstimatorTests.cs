using R1Sharp.Evaluation;

namespace R1Sharp.Tests.Evaluation;

public class EstimatorTests
{
    static double Binomial(int n, int k)
    {
        double result = 1;
        for (int i = 1; i <= k; i++) result = result * (n - k + i) / i;
        return result;
    }

    [Theory]
    [InlineData(5, 2, 1, 0.4)]          // c/n
    [InlineData(5, 2, 2, 0.7)]          // 1 - C(3,2)/C(5,2) = 1 - 3/10
    [InlineData(5, 2, 3, 0.9)]          // 1 - C(3,3)/C(5,3) = 1 - 1/10
    [InlineData(5, 2, 4, 1.0)]          // fewer than k wrong samples: some draw must be right
    [InlineData(4, 0, 2, 0.0)]
    [InlineData(4, 4, 1, 1.0)]
    [InlineData(10, 1, 5, 0.5)]         // 1 - C(9,5)/C(10,5) = 1 - 126/252
    public void Unbiased_pass_at_k_matches_hand_computed_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Unbiased(n, c, k), 12);

    [Fact]
    public void Unbiased_pass_at_k_matches_the_binomial_formula_and_stays_finite_for_large_n()
    {
        for (int n = 1; n <= 30; n++)
            for (int c = 0; c <= n; c++)
                for (int k = 1; k <= n; k++)
                    Assert.Equal(1 - Binomial(n - c, k) / Binomial(n, k), PassAtK.Unbiased(n, c, k), 9);
        double large = PassAtK.Unbiased(10_000, 3, 100);
        Assert.InRange(large, 0.0297, 0.0298); // ≈ 1 - (1 - 0.01)^3
    }

    [Fact]
    public void Reported_ks_are_powers_of_two_and_n() =>
        Assert.Equal([1, 2, 4, 8, 12], PassAtK.ReportedKs(12));

    [Fact]
    public void Majority_vote_picks_the_most_common_answer_and_breaks_ties_by_first_appearance()
    {
        Assert.Equal(1, MajorityVote.Winner(["a", "b", "b", "a", "b"]));
        Assert.Equal(0, MajorityVote.Winner(["a", "b", "b", "a"]));       // tie: "a" came first
        Assert.Equal(1, MajorityVote.Winner([null, "b", null, null]));    // no-answer samples don't vote
        Assert.Null(MajorityVote.Winner([null, null]));
    }
}
