using System.CommandLine;
using System.Globalization;
using R1Sharp.Distillation;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 sample (--model DIR | --endpoint URL --endpoint-model NAME) (--task NAME | --data FILE) --samples k --out traces.jsonl [--keep correct|all] [--shortest]</c>:
/// rejection sampling — the model's verified, well-formed completions as chat SFT data, with acceptance rates. From an
/// endpoint, traces are written as prompts finish and a rerun resumes.
/// </summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var command = new Command("sample", "Rejection sampling: keep a model's verified, well-formed completions as SFT traces");
        var sampling = TaskSamplingOptions.AddTo(command, "Teacher model directory or .gguf file", split: "train", "k: completions sampled per prompt",
            "Most tokens per completion (a completion cut here is rejected)");
        var output = OptionFactory.RequiredPath("--out", "Traces file (JSONL); the summary goes beside it as <name>.summary.json");
        var keep = OptionFactory.WithDefault("--keep", "correct", "correct: only verified-correct, well-formed, finished completions; all: every distinct one, marked");
        var shortest = new Option<bool>("--shortest") { Description = "Keep only the shortest kept trace of each prompt" };
        var adapter = OptionFactory.Adapter();
        var precision = OptionFactory.GenerationPrecision();
        foreach (var option in new Option[] { output, keep, shortest, adapter, precision }) command.Options.Add(option);
        var cost = CostFlags.AddTo(command);
        var endpointFlags = EndpointFlags.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var options = new RejectionSamplingOptions
            {
                Samples = parse.GetValue(sampling.Samples), Prompts = parse.GetValue(sampling.Prompts), Temperature = parse.GetValue(sampling.Temperature),
                TopP = parse.GetValue(sampling.TopP), MaxTokens = parse.GetValue(sampling.MaxTokens), Seed = parse.GetValue(sampling.Seed),
                Keep = SnakeCase.Parse<TraceKeep>(parse.GetValue(keep)!, "--keep"), Shortest = parse.GetValue(shortest),
                Cost = cost.Resolve(parse), Precision = OptionFactory.PrecisionOf(parse, precision),
            }.Validate();
            var (modelDir, task, split) = sampling.Resolve(parse);
            string tracesPath = parse.GetValue(output)!;
            var cli = CliOutput.Of(parse);
            using var endpoint = endpointFlags.Open(parse, modelDir);
            if (endpoint is not null && parse.GetValue(adapter) is not null)
                throw new R1Error("--adapter applies to a local --model; with --endpoint name the server's adapter in --endpoint-model");
            if (endpoint is not null && options.Precision != Precision.Fp32)
                throw new R1Error("--precision applies to a local --model; an --endpoint runs the weights its server loaded (r1 serve --precision)");
            var summary = endpoint is null
                ? cli.WithProgress("sampling", options.Prompts, progress => RejectionSampler.Run(modelDir!, task, split, options, tracesPath, progress, parse.GetValue(adapter))).Summary
                : await cli.WithProgressAsync("sampling", options.Prompts,
                    progress => RejectionSampler.RunAsync(endpoint, task, split, options, tracesPath, progress, cancellation));
            foreach (var table in Tables(summary)) cli.Results.Write(table);
            if (summary.Cost is { } card) cli.Line($"cost: {card.Line}");
            cli.Line($"wrote {summary.TracesWritten} traces to {tracesPath} and the summary to {RejectionSamplingSummary.PathFor(tracesPath)}");
            return 0;
        });
        return command;
    }

    /// <summary>The overall figures, how acceptance spreads over prompts, and the first <paramref name="promptRows"/> prompts.</summary>
    static IEnumerable<Table> Tables(RejectionSamplingSummary s, int promptRows = 20)
    {
        var overall = new Table().Title($"rejection sampling: {Markup.Escape(s.Task)} ({s.Split}), k = {s.SamplesPerPrompt}")
            .AddColumn("").AddColumn(new TableColumn("value").RightAligned());
        overall.AddRow("prompts", s.Prompts.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("samples", s.Samples.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("correct", Percent(s.Correct, s.Samples));
        overall.AddRow("well-formed", Percent(s.WellFormed, s.Samples));
        overall.AddRow("[bold]accepted[/] (correct, well-formed, finished)", Percent(s.Accepted, s.Samples));
        overall.AddRow("prompts with an accepted sample", EvalCommand.Percent(s.PromptsWithAccepted));
        overall.AddRow($"traces written ({s.Keep}{(s.Shortest ? ", shortest" : "")}, deduplicated)", s.TracesWritten.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("mean trace tokens", s.MeanTraceTokens.ToString("F1", CultureInfo.InvariantCulture));
        overall.AddRow("seconds", s.Seconds.ToString("F1", CultureInfo.InvariantCulture));
        if (s.Endpoint is { } endpoint)
        {
            if (s.ResumedPrompts is > 0) overall.AddRow("prompts done by earlier runs (skipped)", s.ResumedPrompts.Value.ToString(CultureInfo.InvariantCulture));
            EndpointFlags.AddRows(overall, endpoint);
        }
        yield return overall;

        // How many prompts had each acceptance count: 0 of k, 1 of k, ... k of k.
        var spread = new Table().Title("prompts by accepted samples").AddColumn("accepted of k").AddColumn(new TableColumn("prompts").RightAligned());
        foreach (var bucket in s.PerPrompt.GroupBy(p => (p.Accepted, p.Samples)).OrderBy(g => g.Key.Accepted))
            spread.AddRow($"{bucket.Key.Accepted} of {bucket.Key.Samples}", Percent(bucket.Count(), s.Prompts) + $" ({bucket.Count()})");
        yield return spread;

        var prompts = new Table().Title(s.PerPrompt.Count > promptRows ? $"first {promptRows} of {s.PerPrompt.Count} prompts (all in the summary file)" : "per prompt")
            .AddColumn("prompt").AddColumn(new TableColumn("correct").RightAligned()).AddColumn(new TableColumn("well-formed").RightAligned())
            .AddColumn(new TableColumn("accepted").RightAligned()).AddColumn(new TableColumn("kept").RightAligned());
        foreach (var p in s.PerPrompt.Take(promptRows))
            prompts.AddRow(Markup.Escape(p.PromptId), $"{p.Correct}/{p.Samples}", $"{p.WellFormed}/{p.Samples}",
                EvalCommand.Percent(p.AcceptanceRate), p.Kept.ToString(CultureInfo.InvariantCulture));
        yield return prompts;
    }

    static string Percent(int part, int whole) => EvalCommand.Percent(whole == 0 ? 0 : (double)part / whole);
}
