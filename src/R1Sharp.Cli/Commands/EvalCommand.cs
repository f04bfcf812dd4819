using System.CommandLine;
using System.Globalization;
using R1Sharp.Evaluation;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 eval (--model DIR | --endpoint URL --endpoint-model NAME) (--task NAME | --data FILE) [--samples k] [--temperature 0.6] [--top-p 0.95] [--max-tokens N] [--greedy false]</c>:
/// pass@1 over k samples, pass@k, cons@k, greedy accuracy; every completion to JSONL, the summary to eval.json.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Evaluate a model by DeepSeek-R1's protocol");
        var sampling = TaskSamplingOptions.AddTo(command, "Model directory or .gguf file", split: "test", "k: samples per prompt", "Most tokens per completion");
        var output = OptionFactory.PathWithDefault("--out", "eval", "Folder for eval.json and samples.jsonl");
        var adapter = OptionFactory.Adapter();
        var quantize = OptionFactory.Quantize();
        var precision = OptionFactory.GenerationPrecision();
        var greedy = OptionFactory.WithDefault("--greedy", true, "Also decode each prompt greedily (temperature 0), for greedy accuracy");
        command.Options.Add(output);
        command.Options.Add(greedy);
        command.Options.Add(adapter);
        command.Options.Add(quantize);
        command.Options.Add(precision);
        var endpointFlags = EndpointFlags.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var (modelDir, task, split) = sampling.Resolve(parse);
            var options = new ModelEvalOptions
            {
                Prompts = parse.GetValue(sampling.Prompts), Samples = parse.GetValue(sampling.Samples), Temperature = parse.GetValue(sampling.Temperature),
                TopP = parse.GetValue(sampling.TopP), MaxTokens = parse.GetValue(sampling.MaxTokens), Seed = parse.GetValue(sampling.Seed),
                Quantize = OptionFactory.QuantizeType(parse, quantize),
                Precision = OptionFactory.PrecisionOf(parse, precision),
                Greedy = parse.GetValue(greedy),
            };
            string dir = parse.GetValue(output)!;
            var cli = CliOutput.Of(parse);
            using var endpoint = endpointFlags.Open(parse, modelDir);
            if (endpoint is not null && parse.GetValue(adapter) is not null)
                throw new R1Error("--adapter applies to a local --model; with --endpoint name the server's adapter in --endpoint-model");
            if (endpoint is not null && options.Quantize is not null)
                throw new R1Error("--quantize applies to a local --model; an --endpoint runs the weights its server loaded");
            if (endpoint is not null && options.Precision != Training.Precision.Fp32)
                throw new R1Error("--precision applies to a local --model; an --endpoint runs the weights its server loaded (r1 serve --precision)");
            var result = endpoint is null
                ? cli.WithProgress("generating", options.Prompts, progress => ModelEvaluator.Run(modelDir!, task, split, options, dir, progress, parse.GetValue(adapter)))
                : await cli.WithProgressAsync("generating", options.Prompts,
                    progress => EndpointEvaluator.RunAsync(endpoint, task, split, options, dir, progress, cancellation));
            cli.Results.Write(Table(result.Report));
            cli.Line($"wrote {Path.Combine(dir, "eval.json")} and {Path.Combine(dir, "samples.jsonl")}");
            return 0;
        });
        return command;
    }

    /// <summary>The summary as a console table.</summary>
    public static Table Table(EvalReport r)
    {
        var table = new Table().Title($"eval: {Markup.Escape(r.Task)}").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        void Row(string metric, string value) => table.AddRow(Markup.Escape(metric), value);
        Row("prompts", r.Prompts.ToString(CultureInfo.InvariantCulture));
        Row("samples per prompt (k)", r.SamplesPerPrompt.ToString(CultureInfo.InvariantCulture));
        Row($"pass@1 (mean over {r.SamplesPerPrompt})", Percent(r.PassAt1));
        foreach (var (k, value) in r.PassAtK.Where(kv => kv.Key > 1)) Row($"pass@{k}", Percent(value));
        Row($"cons@{r.SamplesPerPrompt}", Percent(r.ConsAtK));
        if (r.GreedyAccuracy is { } greedy) Row("greedy accuracy", Percent(greedy));
        Row("mean response tokens", r.MeanResponseTokens.ToString("F1", CultureInfo.InvariantCulture));
        Row("hit token limit", Percent(r.HitLimitShare));
        Row("no final answer", Percent(r.NoAnswerShare));
        if (r.Endpoint is { } endpoint) EndpointFlags.AddRows(table, endpoint);
        return table;
    }

    internal static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
