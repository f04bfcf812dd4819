using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Tests.Gguf;
using R1Sharp.Tests.Inference;

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

    /// <param name="simd">The --simd option, or "" for none (the widest width this CPU runs).</param>
    [SkippableTheory]
    [InlineData("")]
    [InlineData("128")]
    [InlineData("0")]
    public void Bench_generate_measures_both_engines_on_a_model_directory(string simd)
    {
        var width = simd == "" ? SimdKernels.Active : SimdKernels.Parse(simd);
        SimdWidths.SkipUnlessSupported(width);
        var before = SimdKernels.Active;
        using var dir = new TempDir("r1-bench-");
        Assert.Equal(0, R1("init", "--arch", "qwen2", "--preset", "tiny", "--out", dir, "--seed", "1").Exit);
        string json = Path.Combine(dir, "bench.json");
        string[] simdOption = simd == "" ? [] : ["--simd", simd];
        var (exit, output) = R1(["bench", "generate", "--model", dir, "--threads", "1", "--repeats", "1",
            "--prefill-tokens", "24", "--decode-tokens", "6", "--samples", "3", "--out", json, .. simdOption]);
        Assert.True(exit == 0, output);
        Assert.Contains("llama.cpp", output);
        Assert.Contains("3 samples of one prompt", output);
        Assert.Contains($"R1Sharp's CPU kernels: {SimdKernels.Describe(width)}", output);
        Assert.Equal(before, SimdKernels.Active); // a forced width ends with the run

        var result = JsonNode.Parse(File.ReadAllText(json))!;
        foreach (var engine in new[] { "r1sharp", "llama_cpp" })
            foreach (var figure in new[] { "prefill_tokens_per_second", "decode_tokens_per_second", "samples_tokens_per_second" })
                Assert.True(result[engine]![figure]!.GetValue<double>() > 0, $"{engine}.{figure}");
        // --precision all (the default): fp32 and, where the kernels run, bf16 weights, each with the three figures.
        var precisions = result["precisions"]!.AsObject();
        Assert.Equal(width == SimdWidth.None ? ["fp32"] : new[] { "fp32", "bf16" }, precisions.Select(p => p.Key));
        foreach (var (name, figures) in precisions)
            foreach (var figure in new[] { "prefill_tokens_per_second", "decode_tokens_per_second", "samples_tokens_per_second" })
                Assert.True(figures![figure]!.GetValue<double>() > 0, $"precisions.{name}.{figure}");
        Assert.Equal(precisions["fp32"]!["decode_tokens_per_second"]!.GetValue<double>(), result["r1sharp"]!["decode_tokens_per_second"]!.GetValue<double>());
        Assert.Equal(width == SimdWidth.None, result["notes"]!.AsArray().Any(n => n!.GetValue<string>().StartsWith("bf16 not measured")));
        if (width != SimdWidth.None) Assert.Contains("bf16 ÷ fp32", output);
        Assert.Equal(1, result["threads"]!.GetValue<int>());
        Assert.Equal(24, result["options"]!["prefill_tokens"]!.GetValue<int>());
        Assert.Equal((int)width, result["simd_width"]!.GetValue<int>());
        Assert.Equal((int)SimdKernels.Widest, result["widest_simd_width"]!.GetValue<int>());
        Assert.Equal(width == SimdWidth.None, result["decode_profile"] is null); // the profile covers the kernels only
        if (width != SimdWidth.None)
        {
            var phases = result["decode_profile"]!.AsArray();
            double share = phases.Sum(p => p!["share"]!.GetValue<double>());
            Assert.InRange(share, 0.99, 1.01);
        }
    }

    /// <summary>A short `r1 bench generate` (one thread, one repeat, a few tokens) of a tiny model made in <paramref name="dir"/>; its JSON.</summary>
    static JsonNode BenchTiny(TempDir dir, string arch, params string[] options)
    {
        Assert.Equal(0, R1("init", "--arch", arch, "--preset", "tiny", "--out", dir, "--seed", "1").Exit);
        string json = Path.Combine(dir, "bench.json");
        var (exit, output) = R1(["bench", "generate", "--model", dir, "--threads", "1", "--repeats", "1", "--prefill-tokens", "8",
            "--decode-tokens", "3", "--samples", "2", "--out", json, .. options]);
        Assert.True(exit == 0, output);
        return JsonNode.Parse(File.ReadAllText(json))!;
    }

    /// <summary>A quantized run names the product path its projections took: repacked panels where the CPU has AVX-VNNI.</summary>
    [SkippableFact]
    public void Bench_generate_on_a_quantized_model_says_whether_its_projections_ran_on_panels()
    {
        SimdWidths.SkipUnlessSupported(SimdKernels.Active);
        using var dir = new TempDir("r1-bench-");
        string kernels = BenchTiny(dir, "qwen2", "--dtype", "q8_0", "--precision", "fp32")["simd"]!.GetValue<string>();
        Assert.StartsWith(SimdKernels.Describe(SimdKernels.Active), kernels);
        bool panels = QuantizedPanels.Supports(GgmlType.Q8_0) && SimdKernels.Active >= SimdWidth.Bits256;
        Assert.Equal(panels, kernels.Contains("packed projections on repacked AVX-VNNI panels"));
    }

    /// <summary>
    /// A DeepSeek (MLA + MoE) file runs libtorch's forward with its packed products on the kernels: measured against
    /// llama.cpp like the other families, in fp32 only (bf16 copies are the GQA kernels'), with no decode profile.
    /// </summary>
    [SkippableFact]
    public void Bench_generate_measures_a_quantized_deepseek_model_against_llama_cpp()
    {
        SimdWidths.SkipUnlessSupported(SimdKernels.Active);
        using var dir = new TempDir("r1-bench-");
        using (var model = GgufTestModels.CreateWide("deepseek_v3", layers: 2))
            GgufQuantizer.Quantize(GgufTestModels.Export(model, dir.Path), dir.File("q4.gguf"), GgufDType.Q4_K_M);
        string json = dir.File("bench.json");
        var (exit, output) = R1(["bench", "generate", "--model", dir.File("q4.gguf"), "--threads", "1", "--repeats", "1", "--prefill-tokens", "8",
            "--decode-tokens", "3", "--samples", "2", "--out", json]);
        Assert.True(exit == 0, output);
        var result = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(["fp32"], result["precisions"]!.AsObject().Select(p => p.Key));
        Assert.Contains(result["notes"]!.AsArray(), n => n!.GetValue<string>().StartsWith("bf16 not measured"));
        Assert.Null(result["decode_profile"]);
        foreach (var engine in new[] { "r1sharp", "llama_cpp" })
            Assert.True(result[engine]!["decode_tokens_per_second"]!.GetValue<double>() > 0, engine);
        bool panels = QuantizedPanels.Supports(GgmlType.Q4_K) && SimdKernels.Active >= SimdWidth.Bits256;
        Assert.Equal(panels, result["simd"]!.GetValue<string>().Contains("packed projections on repacked AVX-VNNI panels"));
    }

    [SkippableFact]
    public void Bench_generate_precision_bf16_measures_bf16_alone()
    {
        SimdWidths.SkipUnlessSupported(SimdKernels.Active);
        using var dir = new TempDir("r1-bench-");
        var result = BenchTiny(dir, "llama", "--precision", "bf16");
        Assert.Equal(["bf16"], result["precisions"]!.AsObject().Select(p => p.Key));
        Assert.Equal(2, R1("bench", "generate", "--model", dir, "--precision", "auto").Exit); // fp32, bf16 or all
    }

    [Fact]
    public void Bench_generate_rejects_a_one_token_decode()
    {
        using var dir = new TempDir("r1-bench-");
        Assert.Equal(0, R1("init", "--arch", "llama", "--preset", "tiny", "--out", dir).Exit);
        Assert.Equal(2, R1("bench", "generate", "--model", dir, "--decode-tokens", "1").Exit);
    }
}
