using System.CommandLine;
using R1Sharp.Benchmarks;
using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Reference;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 bench generate</c>: R1Sharp's generation speed against llama.cpp on the same model, same run, same threads;
/// <c>r1 bench train</c>: training throughput and MFU; <c>r1 bench serve-hostile</c>: the server under hostile requests.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure R1Sharp's speed");
        bench.Subcommands.Add(Generate());
        bench.Subcommands.Add(Train());
        bench.Subcommands.Add(ServeHostile());
        return bench;
    }

    static Command Train()
    {
        var shape = OptionFactory.WithDefault("--shape", "25m", $"Llama-shaped model built with random weights: {string.Join(", ", BenchmarkShapes.All.Keys)}");
        shape.AcceptOnlyFromAmong([.. BenchmarkShapes.All.Keys]);
        var batch = OptionFactory.WithDefault("--batch-size", 8, "Sequences per training step");
        var length = OptionFactory.WithDefault("--seq-len", 256, "Tokens per sequence");
        var steps = OptionFactory.WithDefault("--steps", 5, "Timed training steps (after two warm-up steps)");
        var threads = OptionFactory.Threads();
        var precision = OptionFactory.WithDefault("--precision", "all",
            "Precision of the training steps: fp32, bf16, or all (each this machine's libtorch runs), each with its own matmul peak");
        precision.AcceptOnlyFromAmong("fp32", "bf16", "all");
        var output = OptionFactory.OptionalPath("--out", "JSON file to write the results to");
        var command = new Command("train", "Training tokens/s and model FLOPs utilisation per precision, and GRPO-style rollout tokens/s")
            { shape, batch, length, steps, threads, precision, output };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(shape)!;
            Training.Precision[] precisions = parse.GetValue(precision) switch
            {
                "fp32" => [Training.Precision.Fp32],
                "bf16" => [Training.Precision.Bf16],
                _ => [Training.Precision.Fp32, Training.Precision.Bf16],
            };
            var r = TrainingBenchmark.Run(name, BenchmarkShapes.All[name], parse.GetValue(batch), parse.GetValue(length), parse.GetValue(steps),
                parse.GetValue(threads), precisions);
            var cli = CliOutput.Of(parse);
            var console = cli.Results;
            var table = new Table().Title(Markup.Escape($"{r.Shape}: {r.Parameters / 1e6:F0}M parameters, {r.Threads} threads"))
                .AddColumn("measure");
            foreach (var p in r.Precisions.Keys) table.AddColumn(new TableColumn(p).RightAligned());
            void Row(string measure, Func<PrecisionThroughput, string> value) =>
                table.AddRow([Markup.Escape(measure), .. r.Precisions.Values.Select(value)]);
            Row("training tokens/s", p => $"{p.TokensPerSecond:F1}");
            Row($"model GFLOP/s (batch {r.BatchSize} × {r.SequenceLength})", p => $"{p.ModelGflops:F1}");
            Row("matmul peak GFLOP/s (same precision)", p => $"{p.MatmulPeakGflops:F1}");
            Row("MFU", p => $"{p.Mfu:P1}");
            console.Write(table);
            if (r.Precisions.TryGetValue("fp32", out var fp32) && r.Precisions.TryGetValue("bf16", out var bf16))
                cli.Line($"bf16 / fp32: training {bf16.TokensPerSecond / fp32.TokensPerSecond:F2}×, matmul peak {bf16.MatmulPeakGflops / fp32.MatmulPeakGflops:F2}×");
            foreach (string note in r.Notes) cli.Note(note);
            cli.Line($"rollout tokens/s ({r.RolloutSequences} sequences × {r.RolloutNewTokens}, fp32): {r.RolloutTokensPerSecond:F1}");
            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, r.ToJson());
                cli.Line($"wrote {path}");
            }
            return 0;
        });
        return command;
    }

    static Command Generate()
    {
        var model = OptionFactory.OptionalPath("--model", "Model directory or .gguf file to measure instead of a named shape (llama, qwen2, qwen3; deepseek2 runs libtorch's forward with its packed products on the kernels: fp32 only, no decode profile)");
        var shape = OptionFactory.WithDefault("--shape", "25m", $"Llama-shaped model built with random weights: {string.Join(", ", BenchmarkShapes.All.Keys)}");
        shape.AcceptOnlyFromAmong([.. BenchmarkShapes.All.Keys]);
        var dtype = OptionFactory.WithDefault("--dtype", "f32",
            "Weights both engines run: f32 (R1Sharp's float model vs its f32 GGUF export), or f16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k quantized by llama.cpp's own quantizer (R1Sharp reads the same file)");
        dtype.AcceptOnlyFromAmong(QuantizeCommand.Types);
        var threads = OptionFactory.Threads("CPU threads for both engines");
        var repeats = OptionFactory.WithDefault("--repeats", 3, "Runs per figure; the median is reported");
        var defaults = new GenerationBenchmarkOptions();
        var prefill = OptionFactory.WithDefault("--prefill-tokens", defaults.PrefillTokens, "Prompt length of the prefill measurement");
        var decode = OptionFactory.WithDefault("--decode-tokens", defaults.DecodeTokens, "New tokens per sequence in the decode measurements");
        var samples = OptionFactory.WithDefault("--samples", defaults.Samples, "Samples of one prompt decoded together");
        var simd = OptionFactory.Optional<string>("--simd",
            $"Vector width of R1Sharp's CPU kernels: 512, 256, 128, or 0 for the libtorch path (default: the widest this CPU runs, or ${SimdKernels.EnvironmentVariable})");
        simd.AcceptOnlyFromAmong("512", "256", "128", "0");
        var precision = OptionFactory.WithDefault("--precision", "all",
            "Weights R1Sharp generates with: fp32, bf16 (bfloat16 copies of the projections), or all (each this model and CPU can run), measured in the same runs");
        precision.AcceptOnlyFromAmong("fp32", "bf16", "all");
        var output = OptionFactory.OptionalPath("--out", "JSON file to write the results to");
        var command = new Command("generate",
            "Prefill, batch-1 decode and 16-samples decode tokens/s of R1Sharp (per precision) and llama.cpp (via LLamaSharp) on the same GGUF file, and R1Sharp's resident memory")
            { model, shape, dtype, threads, repeats, prefill, decode, samples, simd, precision, output };
        command.SetAction(parse =>
        {
            var options = defaults with
            {
                ModelDir = parse.GetValue(model), Shape = parse.GetValue(shape)!, DType = QuantizationMix.Parse(parse.GetValue(dtype)!), Threads = parse.GetValue(threads), Repeats = parse.GetValue(repeats),
                PrefillTokens = parse.GetValue(prefill), DecodeTokens = parse.GetValue(decode), Samples = parse.GetValue(samples),
                Simd = parse.GetValue(simd) is { } width ? SimdKernels.Parse(width) : null,
                Precisions = parse.GetValue(precision) switch
                {
                    "fp32" => [Training.Precision.Fp32],
                    "bf16" => [Training.Precision.Bf16],
                    _ => [Training.Precision.Fp32, Training.Precision.Bf16],
                },
            };
            var cli = CliOutput.Of(parse);
            var console = cli.Results;
            var result = GenerationBenchmark.Run(options, message => cli.Diagnostics.MarkupLine($"[grey]{Markup.Escape(message)}[/]"));
            console.Write(Table(result));
            foreach (string note in result.Notes) cli.Note(note);
            foreach (var (title, profile) in new[] { ("batch-1 decode step", result.DecodeProfile), ($"{options.Samples}-sample decode step", result.SamplesProfile) })
                if (profile is not null) console.Write(ProfileTable($"R1Sharp: where a {title} goes", profile));
            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, result.ToJson());
                cli.Line($"wrote {path}");
            }
            return 0;
        });
        return command;
    }

    static Command ServeHostile()
    {
        var defaults = new R1Sharp.Server.HostileSoakOptions();
        var model = OptionFactory.OptionalPath("--model", "Model directory or .gguf file to serve (default: a tiny random llama)");
        var requests = OptionFactory.WithDefault("--requests", defaults.Requests, "Requests to send, hostile and normal mixed");
        var concurrency = OptionFactory.WithDefault("--concurrency", defaults.Concurrency, "Requests in flight at once");
        var normal = OptionFactory.WithDefault("--normal-share", defaults.NormalShare, "Share of normal requests");
        var maxRss = OptionFactory.WithDefault("--max-rss-growth-mb", defaults.MaxRssGrowthBytes >> 20, "Most the resident memory may grow after the warm-up, in MiB");
        var output = OptionFactory.OptionalPath("--out", "JSON file to write the results to");
        var command = new Command("serve-hostile",
            "Oversized, malformed, wrong-Content-Type, bad-Host, invalid-Unicode and abandoned requests mixed with normal ones against a real server; " +
            "exit 1 unless every request is answered as it should be and memory stays bounded") { model, requests, concurrency, normal, maxRss, output };
        command.SetAction(async (parse, cancellation) =>
        {
            var cli = CliOutput.Of(parse);
            var console = cli.Results;
            var options = defaults with
            {
                ModelDir = parse.GetValue(model), Requests = parse.GetValue(requests), Concurrency = parse.GetValue(concurrency),
                NormalShare = parse.GetValue(normal), MaxRssGrowthBytes = parse.GetValue(maxRss) << 20,
            };
            var r = await R1Sharp.Server.HostileSoak.RunAsync(options, message => cli.Diagnostics.MarkupLine($"[grey]{Markup.Escape(message)}[/]"), cancellation);
            var table = new Table().Title(Markup.Escape($"{r.Model}: {r.Requests} requests, {r.Concurrency} at once, {r.Seconds:F1} s"))
                .AddColumn("request").AddColumn("expected").AddColumn(new TableColumn("sent").RightAligned()).AddColumn(new TableColumn("as expected").RightAligned());
            foreach (var k in r.Kinds) table.AddRow(Markup.Escape(k.Kind), Markup.Escape(k.Expected), $"{k.Sent}", $"{k.Handled}");
            console.Write(table);
            console.WriteLine($"resident memory: {r.RssAfterWarmUpBytes >> 20} MiB after the warm-up, {r.RssAtEndBytes >> 20} MiB at the end " +
                $"(growth {r.RssGrowthBytes >> 20} MiB, bound {r.MaxRssGrowthBytes >> 20} MiB); tokenizer piece cache {r.PieceCacheBytes >> 10} KiB");
            foreach (string failure in r.Failures.Take(20)) console.MarkupLine($"[red]failed:[/] {Markup.Escape(failure)}");
            console.MarkupLine(r.Passed ? "[green]passed[/]" : "[red]FAILED[/]");
            if (parse.GetValue(output) is { } path)
            {
                AtomicFile.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(r, new System.Text.Json.JsonSerializerOptions
                    { WriteIndented = true, PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));
                cli.Line($"wrote {path}");
            }
            return r.Passed ? 0 : 1;
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
            .Title(Markup.Escape($"{r.Model}: {r.Parameters / 1e6:F0}M parameters, {r.DType}, {r.Threads} threads, median of {o.Repeats}"))
            .Caption(Markup.Escape($"R1Sharp's CPU kernels: {r.Simd}; GGUF file {r.FileBytes / 1048576.0:F1} MiB" +
                (r.R1SharpResidentBytes is long rss ? $", R1Sharp's resident memory {rss / 1048576.0:F1} MiB ({(double)rss / r.FileBytes:F2}× the file" +
                    (r.R1SharpMappedResidentBytes is long mapped ? $"; the file's pages resident in its mapping {mapped / 1048576.0:F1} MiB" : "") + ")" : "")))
            .AddColumn("tokens/s").AddColumn(new TableColumn($"R1Sharp {r.Precisions.Keys.First()}").RightAligned())
            .AddColumn(new TableColumn("llama.cpp").RightAligned()).AddColumn(new TableColumn("ratio").RightAligned());
        // With both precisions measured: bf16's figures and their ratio to fp32's, from the same runs.
        bool both = r.Precisions.TryGetValue("fp32", out var fp32) & r.Precisions.TryGetValue("bf16", out var bf16);
        if (both) table.AddColumn(new TableColumn("R1Sharp bf16").RightAligned()).AddColumn(new TableColumn("bf16 ÷ fp32").RightAligned());
        void Row(string what, Func<EngineFigures, double> figure)
        {
            string[] cells = [Markup.Escape(what), $"{figure(r.R1Sharp):F1}", $"{figure(r.LlamaCpp):F1}", $"{figure(r.Ratios):F2}×"];
            table.AddRow(both ? [.. cells, $"{figure(bf16!):F1}", $"{figure(bf16!) / figure(fp32!):F2}×"] : cells);
        }
        Row($"prefill ({o.PrefillTokens}-token prompt)", f => f.PrefillTokensPerSecond);
        Row($"decode, batch 1 ({o.DecodeTokens} tokens)", f => f.DecodeTokensPerSecond);
        Row($"decode, {o.Samples} samples of one prompt (total)", f => f.SamplesTokensPerSecond);
        return table;
    }
}
