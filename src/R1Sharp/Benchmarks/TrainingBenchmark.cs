using System.Diagnostics;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Benchmarks;

/// <summary>What `r1 bench train` measures for one model shape.</summary>
public sealed record TrainingBenchmarkResult(
    string Shape, long Parameters, int BatchSize, int SequenceLength, int Threads,
    double TrainTokensPerSecond, double ModelGflops, double PeakGflops, double Mfu,
    double RolloutTokensPerSecond, int RolloutSequences, int RolloutNewTokens);

/// <summary>
/// Training throughput (forward + backward + AdamW) with model FLOPs utilisation against the measured fp32
/// matmul peak, and rollout throughput (batched sampling with a KV cache), as GRPO spends its time on both.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>Training FLOPs per token of a <paramref name="sequenceLength"/>-token row (<see cref="ModelFlops.Training"/>, PaLM's count).</summary>
    public static double FlopsPerToken(ModelConfig c, int sequenceLength) => ModelFlops.Of(c).Training(sequenceLength) / sequenceLength;

    public static TrainingBenchmarkResult Run(string shape, ModelConfig config, int batchSize, int sequenceLength,
        int steps, int threads, int seed = 0)
    {
        set_num_threads(threads);
        double peak = MatmulPeak.MeasureGflops();
        manual_seed(seed);
        using var model = new CausalLanguageModel(config);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4, weight_decay: 0.1);
        var generator = new Generator((ulong)seed);
        var inputs = randint(config.VocabSize, [batchSize, sequenceLength], dtype: int64, generator: generator);
        var targets = randint(config.VocabSize, [batchSize, sequenceLength], dtype: int64, generator: generator);

        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            LanguageModelLoss.Compute(model.Forward(inputs), targets).backward();
            optimizer.step();
        }
        for (int i = 0; i < 2; i++) Step(); // warm-up: allocator and kernel selection
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        double tokensPerSecond = (double)batchSize * sequenceLength * steps / clock.Elapsed.TotalSeconds;
        double gflops = tokensPerSecond * FlopsPerToken(config, sequenceLength) / 1e9;

        // Rollouts as GRPO makes them: 16 prompts × 8 samples, sampled at temperature 1 with a KV cache.
        model.eval();
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { Temperature = 1.0, TopP = 1.0, MaxNewTokens = 64, Seed = seed };
        var requests = Enumerable.Range(0, 16).Select(p => new GenerationRequest(
            Enumerable.Range(0, 16).Select(j => (p * 31 + j * 7) % config.VocabSize).ToArray(), options, NumSamples: 8)).ToList();
        engine.Generate(requests.Take(2).ToList()); // warm-up
        clock.Restart();
        var result = engine.Generate(requests);
        double rollout = result.Sum(r => r.Sum(s => s.TokenIds.Length)) / clock.Elapsed.TotalSeconds;

        return new TrainingBenchmarkResult(shape, ModelStats.Of(config).TotalParameters, batchSize, sequenceLength, threads,
            tokensPerSecond, gflops, peak, gflops / peak, rollout, 128, 64);
    }
}
