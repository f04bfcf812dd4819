using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Model;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 init --arch A --preset P --out DIR [--seed N] [--tokenizer PATH] [--dtype D]</c></summary>
public static class InitCommand
{
    public static Command Create()
    {
        var arch = OptionFactory.Required<string>("--arch", "Model family: llama, qwen2 or deepseek_v3");
        var preset = OptionFactory.Required<string>("--preset", "Shape: tiny (tests) or small (~10-30M parameters)");
        var output = OptionFactory.RequiredPath("--out", "Directory to write the model to (Hugging Face layout)");
        var seed = OptionFactory.WithDefault("--seed", 0, "Random seed of the initial weights");
        var tokenizer = OptionFactory.OptionalPath("--tokenizer", "tokenizer.json or a folder with it; default: a byte-level tokenizer");
        var dtype = OptionFactory.WithDefault("--dtype", "float32", "Weight dtype on disk: float32, float16 or bfloat16");
        var command = new Command("init", "Create a randomly initialised model with its tokenizer") { arch, preset, output, seed, tokenizer, dtype };
        command.SetAction(parse =>
        {
            var family = ModelConfig.ParseFamily(parse.GetValue(arch)!, "--arch");
            string dir = parse.GetValue(output)!;
            var config = ModelInitializer.Create(family, parse.GetValue(preset)!, dir, parse.GetValue(seed),
                parse.GetValue(tokenizer), parse.GetValue(dtype)!);
            var stats = ModelStats.Of(config);
            CliOutput.Of(parse).Line($"wrote {dir}: {ModelConfig.TypeName(family)} {parse.GetValue(preset)}, {stats.TotalParameters:N0} parameters, vocab {config.VocabSize}");
            return 0;
        });
        return command;
    }
}
