using R1Sharp.Arena;

namespace R1Sharp.Tests.Arena;

/// <summary>The Bradley–Terry fit and the bootstrap leaderboard on battles simulated from known ratings.</summary>
public class BradleyTerryTests
{
    static readonly string[] Names = ["alpha", "beta", "gamma", "delta"];
    static readonly double[] TrueRatings = [1150, 1050, 950, 850]; // mean 1000, as the fit reports

    /// <summary>Battles between random pairs, won with the Bradley–Terry probability of the true ratings (no ties).</summary>
    static List<BattleOutcome> Simulate(int battles, Random random)
    {
        var outcomes = new List<BattleOutcome>();
        for (int n = 0; n < battles; n++)
        {
            int a = random.Next(Names.Length), b = (a + 1 + random.Next(Names.Length - 1)) % Names.Length;
            double pA = 1 / (1 + Math.Pow(10, (TrueRatings[b] - TrueRatings[a]) / 400));
            outcomes.Add(new BattleOutcome(Names[a], Names[b], random.NextDouble() < pA ? Winner.ModelA : Winner.ModelB));
        }
        return outcomes;
    }

    static double TrueRating(string name) => TrueRatings[Array.IndexOf(Names, name)];

    [Fact]
    public void Two_models_get_the_odds_of_their_record_on_the_elo_scale()
    {
        // 30 wins in 40 battles: odds 3, so 400·log10(3) = 190.8 points apart, around the mean of 1000.
        var battles = Enumerable.Range(0, 40).Select(i => new BattleOutcome("a", "b", i < 30 ? Winner.ModelA : Winner.ModelB)).ToList();
        var board = Leaderboard.Compute(battles, bootstrapRounds: 0);
        var a = board.Rows.Single(r => r.Model == "a");
        var b = board.Rows.Single(r => r.Model == "b");
        Assert.Equal(400 * Math.Log10(3), a.Rating - b.Rating, 1.0); // the prior moves it by a fraction of a point
        Assert.Equal(1000, (a.Rating + b.Rating) / 2, 1e-6);
        // A tie is half a win each way: 20 wins and 20 ties against 0 wins and 20 ties is the same record as 30:10.
        var withTies = Enumerable.Range(0, 40).Select(i => new BattleOutcome("b", "a", i < 20 ? Winner.ModelB : Winner.Tie)).ToList();
        var tied = Leaderboard.Compute(withTies, bootstrapRounds: 0);
        Assert.Equal(a.Rating, tied.Rows.Single(r => r.Model == "a").Rating, 1e-6);
    }

    [Fact]
    public void The_fit_is_the_minimum_of_the_penalised_likelihood()
    {
        var battles = Simulate(500, new Random(3));
        var board = Leaderboard.Compute(battles, bootstrapRounds: 0);
        var names = board.Rows.Select(r => r.Model).Order(StringComparer.Ordinal).ToArray();
        var tallies = battles.GroupBy(b => (I: Array.IndexOf(names, b.ModelA), J: Array.IndexOf(names, b.ModelB)))
            .Select(g => new PairTally(g.Key.I, g.Key.J, g.Count(), g.Sum(b => ArenaNames.ScoreOfA(b.Winner)))).ToList();
        var r = names.Select(n => (board.Rows.Single(row => row.Model == n).Rating - BradleyTerry.MeanRating) / BradleyTerry.EloPerDecade).ToArray();
        double best = BradleyTerry.Loss(r, tallies);
        // The objective is convex: no small move in any direction (one rating, or two against each other) lowers it.
        for (int i = 0; i < r.Length; i++)
            for (int j = 0; j < r.Length; j++)
                foreach (double step in new[] { -1e-3, 1e-3 })
                {
                    var moved = (double[])r.Clone();
                    moved[i] += step;
                    if (j != i) moved[j] -= step;
                    Assert.True(BradleyTerry.Loss(moved, tallies) >= best, $"moving {i}/{j} by {step} lowered the loss");
                }
    }

    [Fact]
    public void Simulated_battles_give_back_the_true_ratings_within_25_points()
    {
        var board = Leaderboard.Compute(Simulate(4000, new Random(11)), bootstrapRounds: 0);
        // ~2000 battles per model: the standard error is ~7 points, so 25 is more than three of them.
        foreach (var row in board.Rows) Assert.InRange(row.Rating - TrueRating(row.Model), -25, 25);
        Assert.Equal(Names, board.Rows.Select(r => r.Model));
        Assert.Equal(1000, board.Rows.Average(r => r.Rating), 1e-6);
    }

    [Fact]
    public void The_95_percent_interval_covers_the_true_rating_in_at_least_90_percent_of_simulations()
    {
        var random = new Random(2024);
        int covered = 0, intervals = 0;
        for (int simulation = 0; simulation < 100; simulation++)
        {
            var board = Leaderboard.Compute(Simulate(300, random), bootstrapRounds: 200, seed: simulation);
            foreach (var row in board.Rows)
            {
                Assert.True(row.CiLow <= row.Rating && row.Rating <= row.CiHigh);
                intervals++;
                if (row.CiLow <= TrueRating(row.Model) && TrueRating(row.Model) <= row.CiHigh) covered++;
            }
        }
        Assert.True(covered >= 0.9 * intervals, $"the intervals covered the true rating {covered} times in {intervals}");
    }

    [Fact]
    public void Ties_a_model_that_never_wins_and_a_pair_that_never_met_give_finite_ratings()
    {
        static void AllFinite(Leaderboard board)
        {
            foreach (var row in board.Rows)
                Assert.True(double.IsFinite(row.Rating) && double.IsFinite(row.CiLow) && double.IsFinite(row.CiHigh), $"{row.Model}: {row}");
        }

        // Nothing but ties: everyone at the mean.
        var ties = Enumerable.Range(0, 30).Select(i => new BattleOutcome(Names[i % 4], Names[(i + 1) % 4], i % 2 == 0 ? Winner.Tie : Winner.TieBothBad)).ToList();
        var tied = Leaderboard.Compute(ties, bootstrapRounds: 50);
        AllFinite(tied);
        Assert.All(tied.Rows, row => Assert.Equal(1000, row.Rating, 1e-6));

        // delta loses every battle: last, far below, but finite — also in every bootstrap round.
        var random = new Random(5);
        var battles = Simulate(300, random).Select(b => b.ModelA == "delta" ? b with { Winner = Winner.ModelB }
            : b.ModelB == "delta" ? b with { Winner = Winner.ModelA } : b).ToList();
        var hopeless = Leaderboard.Compute(battles, bootstrapRounds: 100);
        AllFinite(hopeless);
        Assert.Equal("delta", hopeless.Rows[^1].Model);
        Assert.Equal(0.0, hopeless.WinRates[^1].Where(x => x is not null).Max());

        // Two separate leagues (alpha–beta, gamma–delta): no battle links them, yet every rating is defined and the
        // matrix says they never met.
        var leagues = Enumerable.Range(0, 40).Select(i => i % 2 == 0
            ? new BattleOutcome("alpha", "beta", i % 4 == 0 ? Winner.ModelB : Winner.ModelA)
            : new BattleOutcome("gamma", "delta", Winner.ModelA)).ToList();
        var apart = Leaderboard.Compute(leagues, bootstrapRounds: 100);
        AllFinite(apart);
        int alpha = apart.Models.ToList().IndexOf("alpha"), gamma = apart.Models.ToList().IndexOf("gamma");
        Assert.Null(apart.WinRates[alpha][gamma]);
        Assert.Equal(1000, apart.Rows.Average(r => r.Rating), 1e-6);
    }

    [Fact]
    public void Rank_counts_the_models_whose_interval_lies_wholly_above_and_the_matrix_holds_the_win_rates()
    {
        // alpha beats everyone; beta and gamma are even; delta loses to everyone.
        var battles = new List<BattleOutcome>();
        void Add(string a, string b, int winsOfA, int winsOfB)
        {
            for (int i = 0; i < winsOfA; i++) battles.Add(new BattleOutcome(a, b, Winner.ModelA));
            for (int i = 0; i < winsOfB; i++) battles.Add(new BattleOutcome(b, a, Winner.ModelA));
        }
        Add("alpha", "beta", 45, 5);
        Add("alpha", "gamma", 45, 5);
        Add("beta", "gamma", 25, 25);
        Add("beta", "delta", 45, 5);
        Add("gamma", "delta", 45, 5);
        Add("alpha", "delta", 49, 1);
        var board = Leaderboard.Compute(battles, bootstrapRounds: 300, seed: 1);
        Assert.Equal("alpha", board.Rows[0].Model);
        Assert.Equal(1, board.Rows[0].Rank);
        Assert.Equal([2, 2], board.Rows.Where(r => r.Model is "beta" or "gamma").Select(r => r.Rank));
        Assert.Equal(4, board.Rows.Single(r => r.Model == "delta").Rank);
        Assert.Equal(150, board.Rows.Single(r => r.Model == "beta").Battles);
        int a = board.Models.ToList().IndexOf("alpha"), d = board.Models.ToList().IndexOf("delta");
        Assert.Equal(0.98, board.WinRates[a][d]!.Value, 1e-9);
        Assert.Equal(0.02, board.WinRates[d][a]!.Value, 1e-9);
        Assert.Null(board.WinRates[a][a]);

        // Same seed, same intervals.
        var again = Leaderboard.Compute(battles, bootstrapRounds: 300, seed: 1);
        Assert.Equal(board.Rows, again.Rows);
    }
}
