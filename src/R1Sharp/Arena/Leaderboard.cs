using System.Text.Json.Nodes;

namespace R1Sharp.Arena;

/// <summary>One contestant's line: its Bradley–Terry rating, the 95% bootstrap interval, how many battles it fought,
/// and its rank (1 + the number of contestants whose interval lies wholly above its own).</summary>
public sealed record LeaderboardRow(string Model, double Rating, double CiLow, double CiHigh, int Battles, int Rank);

/// <summary>
/// Ratings with confidence intervals, as LMArena reports them. <see cref="Rows"/> and <see cref="Models"/> go best first;
/// <see cref="WinRates"/>[i][j] is the share of their battles model i won against model j (ties half), null where the
/// two never met.
/// </summary>
public sealed record Leaderboard(IReadOnlyList<LeaderboardRow> Rows, IReadOnlyList<string> Models, double?[][] WinRates, int Battles, int BootstrapRounds)
{
    public const int MaxBootstrapRounds = 100_000;

    /// <summary>
    /// Fits the ratings on <paramref name="battles"/>, then refits on <paramref name="bootstrapRounds"/> multinomial
    /// resamples of them (as many battles drawn with replacement, generator seeded by <paramref name="seed"/> and the
    /// round) for the 2.5 and 97.5 percentiles. No rounds: the interval is the rating itself.
    /// </summary>
    public static Leaderboard Compute(IReadOnlyList<BattleOutcome> battles, int bootstrapRounds = 1000, int seed = 0)
    {
        if (bootstrapRounds is < 0 or > MaxBootstrapRounds) throw new R1Error($"bootstrap rounds must be from 0 to {MaxBootstrapRounds}, got {bootstrapRounds}");
        var names = battles.SelectMany(b => new[] { b.ModelA, b.ModelB }).Distinct().Order(StringComparer.Ordinal).ToArray();
        var index = names.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i);

        // Each battle is one of a few kinds — (pair, score of the lower index) — so the fit and the resampling work on kinds.
        var kinds = new Dictionary<(int I, int J, double Score), int>();
        var played = new int[names.Length];
        foreach (var battle in battles)
        {
            int a = index[battle.ModelA], b = index[battle.ModelB];
            if (a == b) continue; // a model against itself says nothing about ratings
            double score = ArenaNames.ScoreOfA(battle.Winner);
            var kind = a < b ? (a, b, score) : (b, a, 1 - score);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            played[a]++;
            played[b]++;
        }
        var kindList = kinds.Keys.ToArray();
        var counts = kindList.Select(k => kinds[k]).ToArray();
        var ratings = BradleyTerry.Fit(names.Length, Tally(kindList, counts));

        var low = (double[])ratings.Clone();
        var high = (double[])ratings.Clone();
        if (bootstrapRounds > 0 && counts.Sum() > 0)
        {
            var samples = new double[bootstrapRounds][];
            // Each round has its own generator, so the result does not depend on how rounds are spread over threads.
            Parallel.For(0, bootstrapRounds, round =>
                samples[round] = BradleyTerry.Fit(names.Length, Tally(kindList, Resample(counts, new Random(unchecked(seed * 1_000_003 + round))))));
            for (int m = 0; m < names.Length; m++)
            {
                var sorted = samples.Select(s => s[m]).Order().ToArray();
                low[m] = Percentile(sorted, 0.025);
                high[m] = Percentile(sorted, 0.975);
            }
        }

        var order = Enumerable.Range(0, names.Length).OrderByDescending(m => ratings[m]).ThenBy(m => names[m], StringComparer.Ordinal).ToArray();
        var rows = order.Select(m => new LeaderboardRow(names[m], ratings[m], low[m], high[m], played[m],
            1 + Enumerable.Range(0, names.Length).Count(other => low[other] > high[m]))).ToList();
        return new Leaderboard(rows, rows.Select(r => r.Model).ToList(), WinRateMatrix(order, kindList, counts), counts.Sum(), bootstrapRounds);
    }

    /// <summary>The rows as <c>r1 arena leaderboard --json</c> prints them: [{"model", "rating", "ci_low", "ci_high",
    /// "battles", "rank"}, …], best first, ratings to a tenth of a point.</summary>
    public JsonArray RowsJson() => new(Rows.Select(r => (JsonNode)new JsonObject
    {
        ["model"] = r.Model, ["rating"] = Math.Round(r.Rating, 1), ["ci_low"] = Math.Round(r.CiLow, 1), ["ci_high"] = Math.Round(r.CiHigh, 1),
        ["battles"] = r.Battles, ["rank"] = r.Rank,
    }).ToArray());

    /// <summary>Everything, for the leaderboard page: the rows, the models in their order, the win-rate matrix, the
    /// number of battles and bootstrap rounds.</summary>
    public JsonObject ToJson() => new()
    {
        ["battles"] = Battles,
        ["bootstrap_rounds"] = BootstrapRounds,
        ["rows"] = RowsJson(),
        ["models"] = new JsonArray(Models.Select(m => (JsonNode)JsonValue.Create(m)).ToArray()),
        ["win_rates"] = new JsonArray(WinRates.Select(row => (JsonNode)new JsonArray(row.Select(x => x is { } v ? (JsonNode)JsonValue.Create(Math.Round(v, 4)) : null).ToArray())).ToArray()),
    };

    static List<PairTally> Tally((int I, int J, double Score)[] kinds, int[] counts)
    {
        var pairs = new Dictionary<(int, int), (double Battles, double Score)>();
        for (int k = 0; k < kinds.Length; k++)
        {
            if (counts[k] == 0) continue;
            var key = (kinds[k].I, kinds[k].J);
            var (battles, score) = pairs.GetValueOrDefault(key);
            pairs[key] = (battles + counts[k], score + counts[k] * kinds[k].Score);
        }
        return pairs.Select(p => new PairTally(p.Key.Item1, p.Key.Item2, p.Value.Battles, p.Value.Score)).ToList();
    }

    /// <summary>A multinomial resample of the battles: as many draws with replacement, counted per kind.</summary>
    static int[] Resample(int[] counts, Random random)
    {
        var cumulative = new long[counts.Length];
        long total = 0;
        for (int k = 0; k < counts.Length; k++) cumulative[k] = total += counts[k];
        var drawn = new int[counts.Length];
        for (long n = 0; n < total; n++)
        {
            int k = Array.BinarySearch(cumulative, random.NextInt64(total) + 1);
            drawn[k < 0 ? ~k : k]++;
        }
        return drawn;
    }

    /// <summary>The q-quantile of sorted values, interpolating linearly between neighbours (numpy's default).</summary>
    static double Percentile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    static double?[][] WinRateMatrix(int[] order, (int I, int J, double Score)[] kinds, int[] counts)
    {
        int n = order.Length;
        var battles = new double[n, n];
        var score = new double[n, n];
        for (int k = 0; k < kinds.Length; k++)
        {
            var (i, j, s) = kinds[k];
            battles[i, j] += counts[k];
            battles[j, i] += counts[k];
            score[i, j] += counts[k] * s;
            score[j, i] += counts[k] * (1 - s);
        }
        return order.Select(i => order.Select(j => battles[i, j] > 0 ? score[i, j] / battles[i, j] : (double?)null).ToArray()).ToArray();
    }
}
