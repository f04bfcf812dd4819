using R1Sharp.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Generation;

/// <summary>The sampler's selection-based picks against the textbook definition: sort, filter, inverse CDF.</summary>
public class TokenSamplerTests
{
    static readonly SamplingOptions[] Settings =
    [
        new() { Temperature = 1.0, TopP = 1.0 },
        new() { Temperature = 0.6, TopP = 0.95 },
        new() { Temperature = 1.3, TopP = 0.5 },
        new() { Temperature = 0.8, TopP = 1.0, TopK = 7 },
        new() { Temperature = 1.0, TopP = 0.9, MinP = 0.05 },
        new() { Temperature = 2.0, TopP = 0.3, TopK = 40, MinP = 0.01 },
        new() { Temperature = 0 },
    ];

    [Fact]
    public void Each_row_picks_what_a_sorted_inverse_cdf_picks_with_the_same_uniform_number()
    {
        const int rows = 64, vocab = 3000;
        var logits = randn([rows, vocab], generator: new Generator(1)) * 3;
        var options = Enumerable.Range(0, rows).Select(r => Settings[r % Settings.Length]).ToArray();
        var seeds = Enumerable.Range(0, rows).Select(r => 1000 + r).ToList();
        var tokens = new long[rows];
        var logProbs = new float[rows];
        new TokenSampler().Sample(logits, options, seeds.Select(s => new Random(s).NextDouble()).ToArray(), tokens, logProbs);

        var values = logits.data<float>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * vocab, vocab).ToArray();
            double u = new Random(seeds[r]).NextDouble();
            // Tied logits are interchangeable: compare by value, not id.
            Assert.Equal(row[Reference(row, options[r], u)], row[tokens[r]]);
            double t = options[r].IsGreedy ? 1 : options[r].Temperature;
            double max = row.Max() / t;
            double logZ = Math.Log(row.Sum(x => Math.Exp(x / t - max))) + max;
            Assert.Equal(row[tokens[r]] / t - logZ, logProbs[r], 3);
        }
    }

    /// <summary>
    /// The whole-vocabulary pick (no filter: buckets by value, then a quickselect inside one) at a real vocabulary size,
    /// on a flat distribution (the large-bucket split, and many tied values) and a peaked one: the token is where the
    /// descending cumulative mass reaches u·Z — the mass of strictly more likely tokens is below it, and with the tokens
    /// as likely as this one it is reached (to float rounding of the probabilities).
    /// </summary>
    [Theory]
    [InlineData(0.02)]
    [InlineData(3.0)]
    public void The_whole_vocabulary_pick_lands_where_the_descending_mass_reaches_the_target(double spread)
    {
        const int vocab = 151936;
        var logits = (randn([1, vocab], generator: new Generator(5)) * spread).data<float>().ToArray();
        double max = logits.Max();
        var p = logits.Select(x => Math.Exp(x - max)).ToArray();
        double z = p.Sum();
        var sampler = new TokenSampler();
        var token = new long[1];
        var logProb = new float[1];
        using var row = tensor(logits).unsqueeze(0);
        foreach (double u in new[] { 0.0, 1e-6, 0.1, 0.37, 0.5, 0.9, 0.999999 })
        {
            sampler.Sample(row, [new SamplingOptions { Temperature = 1, TopP = 1 }], [u], token, logProb);
            float value = logits[token[0]];
            double above = 0, through = 0;
            for (int i = 0; i < vocab; i++)
            {
                if (logits[i] > value) above += p[i];
                if (logits[i] >= value) through += p[i];
            }
            double target = u * z;
            Assert.True(above <= target + 1e-5 * z && through >= target - 1e-5 * z,
                $"spread {spread}, u {u}: token {token[0]} has mass {above} above it and {through} through it; target {target}");
        }
    }

    [Fact]
    public void Frequencies_follow_the_kept_tokens_renormalised()
    {
        // Probabilities 0.4, 0.3, 0.2, 0.1: top_p 0.65 keeps the first two (0.4 before the second is < 0.65, 0.7 before the third is not).
        var logits = tensor(new[] { MathF.Log(0.4f), MathF.Log(0.3f), MathF.Log(0.2f), MathF.Log(0.1f) }).unsqueeze(0);
        var sampler = new TokenSampler();
        var random = new Random(7);
        SamplingOptions[] options = [new SamplingOptions { Temperature = 1, TopP = 0.65 }];
        var counts = new int[4];
        var token = new long[1];
        var logProb = new float[1];
        const int draws = 20000;
        for (int i = 0; i < draws; i++)
        {
            sampler.Sample(logits, options, [random.NextDouble()], token, logProb);
            counts[token[0]]++;
        }
        Assert.Equal(0, counts[2] + counts[3]);
        Assert.InRange(counts[0] / (double)draws, 0.4 / 0.7 - 0.02, 0.4 / 0.7 + 0.02);
    }

    [Fact]
    public void Tied_tokens_are_kept_by_count()
    {
        var flat = zeros(1, 10);
        var seen = new Dictionary<string, HashSet<long>>();
        foreach (var (name, options) in new[]
        {
            ("top_p", new SamplingOptions { Temperature = 1, TopP = 0.5 }),
            ("top_k", new SamplingOptions { Temperature = 1, TopP = 1, TopK = 3 }),
            ("none", new SamplingOptions { Temperature = 1, TopP = 1 }),
        })
        {
            var sampler = new TokenSampler();
            var random = new Random(3);
            var token = new long[1];
            seen[name] = [];
            for (int i = 0; i < 2000; i++)
            {
                sampler.Sample(flat, [options], [random.NextDouble()], token, new float[1]);
                seen[name].Add(token[0]);
            }
        }
        Assert.Equal(5, seen["top_p"].Count);
        Assert.Equal(3, seen["top_k"].Count);
        Assert.Equal(10, seen["none"].Count);
    }

    [Fact]
    public void A_tiny_temperature_is_greedy_and_non_finite_logits_give_no_token()
    {
        // 1/1e-300 overflows float32: without the greedy threshold every logit would become ±infinity or NaN.
        var logits = tensor(new[] { 0.5f, 2f, -1f, 1.9f, float.NaN, 0f, 0f, 0f, 1f, float.PositiveInfinity, 0f, 0f }).view(3, 4);
        var tokens = new long[3];
        var logProbs = new float[3];
        var tiny = new SamplingOptions { Temperature = 1e-300, TopP = 1 };
        new TokenSampler().Sample(logits, [tiny, tiny, new SamplingOptions { Temperature = 1 }], [0.99, 0.5, 0.5], tokens, logProbs);
        Assert.Equal(1, tokens[0]);
        Assert.True(float.IsFinite(logProbs[0]));
        Assert.Equal(-1, tokens[1]); // NaN
        Assert.Equal(-1, tokens[2]); // +infinity
    }

    /// <summary>Sort descending, keep the prefix every filter allows, pick the first token whose CDF exceeds u × kept mass.</summary>
    static long Reference(float[] logits, SamplingOptions o, double u)
    {
        if (o.IsGreedy) return Array.IndexOf(logits, logits.Max());
        double max = logits.Max() / o.Temperature;
        var p = logits.Select(x => Math.Exp(x / o.Temperature - max)).ToArray();
        double z = p.Sum();
        var sorted = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ToArray();
        var kept = new List<int>();
        double before = 0;
        foreach (int i in sorted)
        {
            bool keep = (o.TopK <= 0 || kept.Count < o.TopK) && before / z < o.TopP && p[i] >= o.MinP * p[sorted[0]];
            if (!keep) break;
            kept.Add(i);
            before += p[i];
        }
        double target = u * kept.Sum(i => p[i]), cdf = 0;
        foreach (int i in kept)
        {
            cdf += p[i];
            if (cdf > target) return i;
        }
        return kept[^1];
    }
}
