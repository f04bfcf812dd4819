using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Model;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 init (--arch A --preset P | --config config.json) --out DIR [--seed N] [--tokenizer PATH] [--dtype D] [--force]</c>
/// </summary>
public static class InitCommand
{
    public static Command Create()
    {
        var arch = OptionFactory.Optional<string>("--arch", "Model family: llama, qwen2, qwen3 or deepseek_v3 (with --preset)");
        var preset = OptionFactory.Optional<string>("--preset", "Shape: tiny (tests) or small (10-30M parameters)");
        var config = OptionFactory.OptionalPath("--config", "An HF config.json (llama, qwen2, qwen3, deepseek_v3) whose shape to build, instead of --arch/--preset");
        var output = OptionFactory.RequiredPath("--out", "Directory to write the model to (Hugging Face layout)");
        var seed = OptionFactory.WithDefault("--seed", 0, "Random seed of the initial weights");
        var tokenizer = OptionFactory.OptionalPath("--tokenizer", "tokenizer.json or a folder with it; default: a byte-level tokenizer");
        var dtype = OptionFactory.WithDefault("--dtype", "float32", "Weight dtype on disk: float32, float16 or bfloat16");
        var force = OptionFactory.WithDefault("--force", false, "Replace --out if it exists and is not empty");
        var command = new Command("init", "Create a randomly initialised model with its tokenizer")
        {
            arch, preset, config, output, seed, tokenizer, dtype, force,
        };
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(output)!;
            string? configPath = parse.GetValue(config), archName = parse.GetValue(arch), presetName = parse.GetValue(preset);
            if (configPath is not null && (archName is not null || presetName is not null))
                throw new R1Error("--config gives the shape; do not pass --arch or --preset with it");
            if (configPath is null && (archName is null || presetName is null))
                throw new R1Error("pass --arch and --preset, or --config config.json");
            var created = configPath is not null
                ? ModelInitializer.CreateFromConfig(configPath, dir, parse.GetValue(seed), parse.GetValue(tokenizer), parse.GetValue(dtype)!, parse.GetValue(force))
                : ModelInitializer.Create(ModelConfig.ParseFamily(archName!, "--arch"), presetName!, dir, parse.GetValue(seed),
                    parse.GetValue(tokenizer), parse.GetValue(dtype)!, parse.GetValue(force));
            var stats = ModelStats.Of(created);
            string shape = configPath is null ? presetName! : Path.GetFileName(configPath);
            CliOutput.Of(parse).Line($"wrote {dir}: {ModelConfig.TypeName(created.Family)} {shape}, {stats.TotalParameters:N0} parameters, vocab {created.VocabSize}");
            return 0;
        });
        return command;
    }
}
