using System.Text.Json.Nodes;
using R1Sharp.Cli;

namespace R1Sharp.Tests.Benchmarks;

/// <summary>`r1 bench generate` end to end on a tiny model: both engines run and every figure lands in the table and the JSON.</summary>
public class BenchCommandTests
{
    static (int Exit, string Output) R1(params string[] args)
    {
        var output = new StringWriter();
        int exit = CliApp.Run(args, output);
        return (exit, output.ToString());
    }

    [Fact]
    public void Bench_generate_measures_both_engines_on_a_model_directory()
    {
        string dir = Directory.CreateTempSubdirectory("r1-bench-").FullName;
        Assert.Equal(0, R1("init", "--arch", "qwen2", "--preset", "tiny", "--out", dir, "--seed", "1").Exit);
        string json = Path.Combine(dir, "bench.json");
        var (exit, output) = R1("bench", "generate", "--model", dir, "--threads", "1", "--repeats", "1",
            "--prefill-tokens", "24", "--decode-tokens", "6", "--samples", "3", "--out", json);
        Assert.True(exit == 0, output);
        Assert.Contains("llama.cpp", output);
        Assert.Contains("3 samples of one prompt", output);

        var result = JsonNode.Parse(File.ReadAllText(json))!;
        foreach (var engine in new[] { "r1sharp", "llama_cpp" })
            foreach (var figure in new[] { "prefill_tokens_per_second", "decode_tokens_per_second", "samples_tokens_per_second" })
                Assert.True(result[engine]![figure]!.GetValue<double>() > 0, $"{engine}.{figure}");
        Assert.Equal(1, result["threads"]!.GetValue<int>());
        Assert.Equal(24, result["options"]!["prefill_tokens"]!.GetValue<int>());
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            var phases = result["decode_profile"]!.AsArray();
            double share = phases.Sum(p => p!["share"]!.GetValue<double>());
            Assert.InRange(share, 0.99, 1.01);
        }
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Bench_generate_rejects_a_one_token_decode()
    {
        string dir = Directory.CreateTempSubdirectory("r1-bench-").FullName;
        Assert.Equal(0, R1("init", "--arch", "llama", "--preset", "tiny", "--out", dir).Exit);
        Assert.Equal(2, R1("bench", "generate", "--model", dir, "--decode-tokens", "1").Exit);
        Directory.Delete(dir, recursive: true);
    }
}
