using System.CommandLine;
using R1Sharp.Benchmarks;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 bench generate</c>: R1Sharp's generation speed against llama.cpp on the same model, same run, same threads.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure R1Sharp's speed");
        bench.Subcommands.Add(Generate());
        return bench;
    }

    static Command Generate()
    {
        var model = OptionFactory.Optional<string>("--model", "Model directory (llama or qwen2) to measure instead of a named shape");
        var shape = OptionFactory.WithDefault("--shape", "25m", $"Llama-shaped model built with random weights: {string.Join(", ", GenerationBenchmark.Shapes.Keys)}");
        shape.AcceptOnlyFromAmong([.. GenerationBenchmark.Shapes.Keys]);
        var threads = OptionFactory.WithDefault("--threads", Environment.ProcessorCount, "CPU threads for both engines");
        var repeats = OptionFactory.WithDefault("--repeats", 3, "Runs per figure; the median is reported");
        var output = OptionFactory.Optional<string>("--out", "JSON file to write the results to");
        var command = new Command("generate",
            "Prefill, batch-1 decode and 16-samples decode tokens/s of R1Sharp and llama.cpp (via LLamaSharp) on the same f32 model")
            { model, shape, threads, repeats, output };
        command.SetAction(parse =>
        {
            var options = new GenerationBenchmarkOptions
            {
                ModelDir = parse.GetValue(model), Shape = parse.GetValue(shape)!, Threads = parse.GetValue(threads), Repeats = parse.GetValue(repeats),
            };
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output) });
            var result = GenerationBenchmark.Run(options, message => console.MarkupLineInterpolated($"[grey]{message}[/]"));
            console.Write(Table(result));
            foreach (var (title, profile) in new[] { ("batch-1 decode step", result.DecodeProfile), ($"{options.Samples}-sample decode step", result.SamplesProfile) })
                if (profile is not null) console.Write(ProfileTable($"R1Sharp: where a {title} goes", profile));
            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, result.ToJson());
                console.MarkupLineInterpolated($"wrote [green]{path}[/]");
            }
            return 0;
        });
        return command;
    }

    static Table ProfileTable(string title, IReadOnlyList<PhaseTime> phases)
    {
        var table = new Table().Title(Markup.Escape(title)).AddColumn("phase").AddColumn(new TableColumn("ms/step").RightAligned())
            .AddColumn(new TableColumn("share").RightAligned()).AddColumn(new TableColumn("weights GB/s").RightAligned());
        foreach (var p in phases)
            table.AddRow(Markup.Escape(p.Phase), $"{p.MillisecondsPerStep:F3}", $"{p.Share:P1}", p.WeightGigabytesPerSecond is double g ? $"{g:F1}" : "");
        return table;
    }

    static Table Table(GenerationBenchmarkResult r)
    {
        var o = r.Options;
        var table = new Table()
            .Title(Markup.Escape($"{r.Model}: {r.Parameters / 1e6:F0}M parameters, f32, {r.Threads} threads, median of {o.Repeats}"))
            .AddColumn("tokens/s").AddColumn(new TableColumn("R1Sharp").RightAligned())
            .AddColumn(new TableColumn("llama.cpp").RightAligned()).AddColumn(new TableColumn("ratio").RightAligned());
        void Row(string what, double ours, double theirs, double ratio) =>
            table.AddRow(Markup.Escape(what), $"{ours:F1}", $"{theirs:F1}", $"{ratio:F2}×");
        Row($"prefill ({o.PrefillTokens}-token prompt)", r.R1Sharp.PrefillTokensPerSecond, r.LlamaCpp.PrefillTokensPerSecond, r.Ratios.PrefillTokensPerSecond);
        Row($"decode, batch 1 ({o.DecodeTokens} tokens)", r.R1Sharp.DecodeTokensPerSecond, r.LlamaCpp.DecodeTokensPerSecond, r.Ratios.DecodeTokensPerSecond);
        Row($"decode, {o.Samples} samples of one prompt (total)", r.R1Sharp.SamplesTokensPerSecond, r.LlamaCpp.SamplesTokensPerSecond, r.Ratios.SamplesTokensPerSecond);
        return table;
    }
}
