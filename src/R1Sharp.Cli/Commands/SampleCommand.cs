using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Distillation;
using R1Sharp.Quickstart;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 sample --model DIR (--task NAME | --data FILE) --samples k --out traces.jsonl [--keep correct|all] [--shortest]</c>:
/// rejection sampling — the model's verified, well-formed completions as chat SFT data, with acceptance rates.
/// </summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var model = OptionFactory.Required<string>("--model", "Teacher model directory");
        var task = OptionFactory.Optional<string>("--task", TaskSource.TaskHelp);
        var data = OptionFactory.Optional<string>("--data", "Dataset file (.jsonl or .parquet; GSM8K, MATH or {prompt|messages, answer})");
        var split = OptionFactory.WithDefault("--split", "train", "Split of a synthetic task: train, test or harder");
        var samples = OptionFactory.WithDefault("--samples", 4, "k: completions sampled per prompt");
        var output = OptionFactory.Required<string>("--out", "Traces file (JSONL); the summary goes beside it as <name>.summary.json");
        var keep = OptionFactory.WithDefault("--keep", "correct", "correct: only verified-correct, well-formed, finished completions; all: every distinct one, marked");
        var shortest = new Option<bool>("--shortest") { Description = "Keep only the shortest kept trace of each prompt" };
        var prompts = OptionFactory.WithDefault("--prompts", 200, "Most prompts to sample from");
        var temperature = OptionFactory.WithDefault("--temperature", 0.6, "Sampling temperature");
        var topP = OptionFactory.WithDefault("--top-p", 0.95, "Nucleus sampling threshold");
        var maxTokens = OptionFactory.WithDefault("--max-tokens", 256, "Most tokens per completion (a completion cut here is rejected)");
        var seed = OptionFactory.WithDefault("--seed", 0, "Seed of prompt choice and sampling");
        var threads = OptionFactory.WithDefault("--threads", Environment.ProcessorCount, "CPU threads");
        var command = new Command("sample", "Rejection sampling: keep a model's verified, well-formed completions as SFT traces")
            { model, task, data, split, samples, output, keep, shortest, prompts, temperature, topP, maxTokens, seed, threads };
        command.SetAction(parse =>
        {
            string modelDir = parse.GetValue(model)!;
            var source = TaskSource.Resolve(parse.GetValue(task), parse.GetValue(data), modelDir);
            var options = new RejectionSamplingOptions
            {
                Samples = parse.GetValue(samples), Prompts = parse.GetValue(prompts), Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP), MaxTokens = parse.GetValue(maxTokens), Seed = parse.GetValue(seed),
                Keep = SnakeCase.Parse<TraceKeep>(parse.GetValue(keep)!, "--keep"), Shortest = parse.GetValue(shortest),
            }.Validate();
            var which = SnakeCase.Parse<TaskSplit>(parse.GetValue(split)!, "--split");
            TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            using var bundle = ModelBundle.Load(modelDir);
            RejectionSamplingResult result = null!;
            AnsiConsole.Progress().Start(ctx =>
            {
                var bar = ctx.AddTask("sampling", maxValue: options.Prompts);
                result = RejectionSampler.Run(bundle, source, which, options, (done, total) =>
                {
                    bar.MaxValue = total;
                    bar.Value = done;
                });
            });
            string tracesPath = parse.GetValue(output)!, summaryPath = RejectionSamplingSummary.PathFor(tracesPath);
            DistillationTrace.WriteJsonl(tracesPath, result.Traces);
            result.Summary.Save(summaryPath);
            foreach (var table in result.Summary.ToTables()) AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"wrote {result.Traces.Count} traces to {tracesPath} and the summary to {summaryPath}");
            return 0;
        });
        return command;
    }
}
