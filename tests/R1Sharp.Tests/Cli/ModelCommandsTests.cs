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
        string dir = Directory.CreateTempSubdirectory("r1-cli-").FullName;
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
        Assert.Equal(2, R1("generate", "--model", "/nonexistent/model", "--prompt", "x").Exit);
        Assert.Equal(2, R1("init", "--arch", "gpt5", "--preset", "tiny", "--out", Path.GetTempFileName() + ".d").Exit);
        string dir = Directory.CreateTempSubdirectory("r1-cli-").FullName;
        Assert.Equal(2, R1("init", "--arch", "llama", "--preset", "huge", "--out", dir).Exit);
        Assert.Empty(Directory.GetFiles(dir));
    }
}
