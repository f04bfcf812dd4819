using System.Text.Json.Nodes;
using R1Sharp.Benchmarks;
using R1Sharp.Model;
using R1Sharp.Training;

namespace R1Sharp.Tests.Benchmarks;

/// <summary>`r1 bench train`'s measurement on a tiny model: one entry per precision, each with its own peak and MFU.</summary>
public class TrainingBenchmarkTests
{
    [Fact]
    public void Bench_train_reports_each_precision_with_its_own_matmul_peak()
    {
        var config = ModelPresets.Create(ModelFamily.Llama, "tiny", 300);
        var r = TrainingBenchmark.Run("tiny", config, batchSize: 2, sequenceLength: 16, steps: 1, threads: 1,
            [Precision.Fp32, Precision.Bf16], peakSeconds: 0.05, rolloutNewTokens: 2);
        var json = JsonNode.Parse(r.ToJson())!;
        var precisions = json["precisions"]!.AsObject();
        string[] expected = Autocast.IsAvailable ? ["fp32", "bf16"] : ["fp32"];
        Assert.Equal(expected, precisions.Select(p => p.Key));
        Assert.Equal(Autocast.IsAvailable, r.Notes.Count == 0);
        foreach (var (name, figures) in precisions)
        {
            double tokens = figures!["tokens_per_second"]!.GetValue<double>(), peak = figures["matmul_peak_gflops"]!.GetValue<double>();
            Assert.True(tokens > 0 && peak > 0, name);
            double modelGflops = tokens * TrainingBenchmark.FlopsPerToken(config, 16) / 1e9;
            Assert.Equal(modelGflops / peak, figures["mfu"]!.GetValue<double>(), 1e-9); // MFU against this precision's own peak
        }
        Assert.True(json["rollout_tokens_per_second"]!.GetValue<double>() > 0);
    }

    [Fact]
    public void Bench_train_rejects_an_unknown_precision()
    {
        var output = new StringWriter();
        Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["bench", "train", "--precision", "fp16"], output));
    }
}
