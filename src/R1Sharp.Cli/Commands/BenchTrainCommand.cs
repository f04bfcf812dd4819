using System.CommandLine;
using System.Text.Json;
using R1Sharp.Benchmarks;
using R1Sharp.Model;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 bench train</c>: training tokens/s (forward + backward + AdamW) with model FLOPs utilisation against the
/// fp32 matmul peak measured in the same run, and rollout tokens/s.
/// </summary>
public static class BenchTrainCommand
{
    public static Command Create()
    {
        var arch = OptionFactory.WithDefault("--arch", "llama", "Model family: llama, qwen2 or deepseek_v3");
        var preset = OptionFactory.WithDefault("--preset", "small", "Model shape: tiny or small");
        var vocab = OptionFactory.WithDefault("--vocab", 4096, "Vocabulary size");
        var sequence = OptionFactory.WithDefault("--seq-len", 256, "Tokens per training sequence");
        var batch = OptionFactory.WithDefault("--batch-size", 8, "Sequences per step");
        var steps = OptionFactory.WithDefault("--steps", 5, "Timed steps (after two warm-up steps)");
        var threads = OptionFactory.WithDefault("--threads", Environment.ProcessorCount, "CPU threads");
        var output = OptionFactory.Optional<string>("--out", "JSON file to write the result to");
        var command = new Command("train", "Training throughput and MFU, and rollout throughput") { arch, preset, vocab, sequence, batch, steps, threads, output };
        command.SetAction(parse =>
        {
            var family = ModelConfig.ParseFamily(parse.GetValue(arch)!, "--arch");
            var config = ModelPresets.Create(family, parse.GetValue(preset)!, parse.GetValue(vocab));
            var r = TrainingBenchmark.Run($"{parse.GetValue(arch)} {parse.GetValue(preset)}", config, parse.GetValue(batch),
                parse.GetValue(sequence), parse.GetValue(steps), parse.GetValue(threads));
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output) });
            var table = new Table().Title(Markup.Escape($"{r.Shape}: {r.Parameters / 1e6:F1}M parameters, batch {r.BatchSize} × {r.SequenceLength}, {r.Threads} threads, fp32"))
                .AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
            table.AddRow("training tokens/s (fwd + bwd + AdamW)", $"{r.TrainTokensPerSecond:F0}");
            table.AddRow("model GFLOP/s", $"{r.ModelGflops:F1}");
            table.AddRow("fp32 matmul peak GFLOP/s (same run)", $"{r.PeakGflops:F1}");
            table.AddRow("MFU", $"{r.Mfu:P1}");
            table.AddRow($"rollout tokens/s ({r.RolloutSequences} sequences × {r.RolloutNewTokens} new tokens)", $"{r.RolloutTokensPerSecond:F0}");
            console.Write(table);
            if (parse.GetValue(output) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(r, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }
}
