using R1Sharp.Cli;

namespace R1Sharp.Tests.Cli;

public class ModelCommandsTests
{
    static (int Exit, string Output) R1(params string[] args)
    {
        var output = new StringWriter();
        int exit = CliApp.Run(args, output);
        return (exit, output.ToString());
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("deepseek_v3")]
    public void Init_then_generate_prints_the_same_text_on_every_run(string arch)
    {
        using var dir = new TempDir("r1-cli-");
        Assert.Equal(0, R1("init", "--arch", arch, "--preset", "tiny", "--out", dir, "--seed", "3").Exit);
        foreach (var file in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, file)), $"{file} missing");

        string[] greedy = ["generate", "--model", dir, "--prompt", "2+2=", "--temperature", "0", "--max-tokens", "16"];
        var first = R1(greedy);
        Assert.Equal(0, first.Exit);
        Assert.Equal(first.Output, R1(greedy).Output);

        string[] seeded = ["generate", "--model", dir, "--prompt", "2+2=", "--temperature", "1.0", "--seed", "7", "--max-tokens", "16"];
        var sampled = R1(seeded);
        Assert.Equal(sampled.Output, R1(seeded).Output);
        Assert.NotEqual(sampled.Output, R1(["generate", "--model", dir, "--prompt", "2+2=", "--temperature", "1.0", "--seed", "8", "--max-tokens", "16"]).Output);
    }

    [Fact]
    public void Bad_input_exits_with_2_and_writes_nothing_half_done()
    {
        using (var missing = new TempDir()) Assert.Equal(2, R1("generate", "--model", missing.File("no-model"), "--prompt", "x").Exit);
        Assert.Equal(2, R1("init", "--arch", "gpt5", "--preset", "tiny", "--out", Path.GetTempFileName() + ".d").Exit);
        using var dir = new TempDir("r1-cli-");
        Assert.Equal(2, R1("init", "--arch", "llama", "--preset", "huge", "--out", dir).Exit);
        Assert.Empty(Directory.GetFiles(dir));
    }
}

public class EvalCommandTests
{
    [Fact]
    public void Eval_runs_end_to_end_on_a_tiny_random_model_and_writes_its_outputs()
    {
        using var model = new TempDir("r1-eval-");
        string output = Path.Combine(model, "out");
        Assert.Equal(0, CliApp.Run(["init", "--arch", "qwen2", "--preset", "tiny", "--out", model]));
        Assert.Equal(0, CliApp.Run(["eval", "--model", model, "--task", "arithmetic", "--samples", "3", "--prompts", "5",
            "--max-tokens", "8", "--out", output]));
        var report = R1Sharp.Evaluation.EvalReport.Load(Path.Combine(output, "eval.json"));
        Assert.Equal(5, report.Prompts);
        Assert.Equal(3, report.SamplesPerPrompt);
        Assert.InRange(report.PassAt1, 0, 1);
        Assert.InRange(report.MeanResponseTokens, 1, 8);
        // k samples plus the greedy one per prompt.
        Assert.Equal(5 * 4, File.ReadAllLines(Path.Combine(output, "samples.jsonl")).Length);
        Assert.Equal(2, CliApp.Run(["eval", "--model", model, "--task", "nosuchtask", "--out", output]));
    }
}

public class InspectCommandTests
{
    static long KvBytesPerToken(string output) =>
        long.Parse(output.Split('\n').First(l => l.Contains("KV-cache bytes per token (bf16)")).Split('│', StringSplitOptions.RemoveEmptyEntries)[^1].Trim().Replace(",", ""));

    [Fact]
    public void Inspect_shows_mla_caching_far_fewer_bytes_per_token_than_gqa_at_the_same_width()
    {
        using var gqa = new TempDir("r1-gqa-");
        using var mla = new TempDir("r1-mla-");
        Assert.Equal(0, CliApp.Run(["init", "--arch", "llama", "--preset", "small", "--out", gqa]));
        Assert.Equal(0, CliApp.Run(["init", "--arch", "deepseek_v3", "--preset", "small", "--out", mla]));
        var gqaOut = new StringWriter();
        var mlaOut = new StringWriter();
        Assert.Equal(0, CliApp.Run(["inspect", gqa], gqaOut));
        Assert.Equal(0, CliApp.Run(["inspect", mla], mlaOut));
        Assert.Contains("active parameters per token", mlaOut.ToString());
        Assert.True(KvBytesPerToken(mlaOut.ToString()) * 3 < KvBytesPerToken(gqaOut.ToString()),
            $"MLA {KvBytesPerToken(mlaOut.ToString())} vs GQA {KvBytesPerToken(gqaOut.ToString())} bytes per token");
        Assert.Equal(2, CliApp.Run(["inspect", Path.Combine(gqa, "missing")]));
    }
}
