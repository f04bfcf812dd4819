using System.Text.Json;
using System.Diagnostics;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Benchmarks;

/// <summary>What `r1 bench train` measures for one model shape: training figures per precision ("fp32", "bf16").</summary>
public sealed record TrainingBenchmarkResult(
    string Shape, long Parameters, int BatchSize, int SequenceLength, int Threads,
    IReadOnlyDictionary<string, PrecisionThroughput> Precisions, IReadOnlyList<string> Notes,
    double RolloutTokensPerSecond, int RolloutSequences, int RolloutNewTokens)
{
    /// <summary>The --out file: snake_case keys, "precisions": {"fp32": {"tokens_per_second", "matmul_peak_gflops", "mfu", ...}, "bf16": ...}.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
        { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
}

/// <summary>Training in one precision: tokens/s, model GFLOP/s, the matmul peak of that precision measured just before,
/// and MFU against it.</summary>
public sealed record PrecisionThroughput(double TokensPerSecond, double ModelGflops, double MatmulPeakGflops, double Mfu);

/// <summary>
/// Training throughput (forward + backward + AdamW) in each asked precision, with model FLOPs utilisation against the
/// measured matmul peak of that precision, and rollout throughput (batched sampling with a KV cache), as GRPO spends
/// its time on both. bf16 runs the trainers' path: forward and loss inside <see cref="PrecisionChoice.Autocast"/>.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>Training FLOPs per token of a <paramref name="sequenceLength"/>-token row (<see cref="ModelFlops.Training"/>, PaLM's count).</summary>
    public static double FlopsPerToken(ModelConfig c, int sequenceLength) => ModelFlops.Of(c).Training(sequenceLength) / sequenceLength;

    /// <param name="precisions">fp32 and/or bf16; bf16 is left out, with a note, where libtorch has no autocast.</param>
    /// <param name="peakSeconds">How long each matmul peak is measured.</param>
    /// <param name="rolloutNewTokens">Tokens each rollout sample generates.</param>
    public static TrainingBenchmarkResult Run(string shape, ModelConfig config, int batchSize, int sequenceLength,
        int steps, int threads, IReadOnlyList<Precision> precisions, int seed = 0, double peakSeconds = 2.0, int rolloutNewTokens = 64)
    {
        set_num_threads(threads);
        var figures = new Dictionary<string, PrecisionThroughput>();
        var notes = new List<string>();
        foreach (var precision in precisions.Distinct())
        {
            if (precision == Precision.Auto) throw new ArgumentException("the benchmark measures fp32 and bf16, not auto", nameof(precisions));
            if (precision == Precision.Bf16 && !Autocast.IsAvailable)
            {
                notes.Add($"bf16 not measured: {Autocast.Unavailable}");
                continue;
            }
            double peak = MatmulPeak.MeasureGflops(precision == Precision.Bf16 ? bfloat16 : float32, seconds: peakSeconds);
            double tokensPerSecond = TrainingTokensPerSecond(config, batchSize, sequenceLength, steps, seed, new PrecisionChoice(precision, "benchmark"));
            double gflops = tokensPerSecond * FlopsPerToken(config, sequenceLength) / 1e9;
            figures[SnakeCase.Name(precision)] = new PrecisionThroughput(tokensPerSecond, gflops, peak, gflops / peak);
        }

        // Rollouts as GRPO makes them: 16 prompts × 8 samples, sampled at temperature 1 with a KV cache.
        manual_seed(seed);
        using var model = new CausalLanguageModel(config);
        model.eval();
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { Temperature = 1.0, TopP = 1.0, MaxNewTokens = rolloutNewTokens, Seed = seed };
        var requests = Enumerable.Range(0, 16).Select(p => new GenerationRequest(
            Enumerable.Range(0, 16).Select(j => (p * 31 + j * 7) % config.VocabSize).ToArray(), options, NumSamples: 8)).ToList();
        engine.Generate(requests.Take(2).ToList()); // warm-up
        var clock = Stopwatch.StartNew();
        var result = engine.Generate(requests);
        double rollout = result.Sum(r => r.Sum(s => s.TokenIds.Length)) / clock.Elapsed.TotalSeconds;

        return new TrainingBenchmarkResult(shape, ModelStats.Of(config).TotalParameters, batchSize, sequenceLength, threads,
            figures, notes, rollout, 128, rolloutNewTokens);
    }

    /// <summary>Timed training steps (after two warm-up steps) of a freshly seeded model in <paramref name="precision"/>.</summary>
    static double TrainingTokensPerSecond(ModelConfig config, int batchSize, int sequenceLength, int steps, int seed, PrecisionChoice precision)
    {
        manual_seed(seed);
        using var model = new CausalLanguageModel(config);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 0.1);
        var generator = new Generator((ulong)seed);
        using var inputs = randint(config.VocabSize, [batchSize, sequenceLength], dtype: int64, generator: generator);
        using var targets = randint(config.VocabSize, [batchSize, sequenceLength], dtype: int64, generator: generator);

        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor loss;
            using (precision.Autocast(model.Device))
                loss = LanguageModelLoss.Compute(model.Forward(inputs), targets);
            loss.backward();
            optimizer.step();
        }
        for (int i = 0; i < 2; i++) Step(); // warm-up: allocator and kernel selection
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        return (double)batchSize * sequenceLength * steps / clock.Elapsed.TotalSeconds;
    }
}
