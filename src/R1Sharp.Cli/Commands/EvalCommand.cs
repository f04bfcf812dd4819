using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 eval --model DIR (--task NAME | --data FILE) [--samples k] [--temperature 0.6] [--top-p 0.95] [--max-tokens N]</c>:
/// pass@1 over k samples, pass@k, cons@k, greedy accuracy; every completion to JSONL, the summary to eval.json.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = OptionFactory.Required<string>("--model", "Model directory");
        var task = OptionFactory.Optional<string>("--task", TaskSource.TaskHelp);
        var data = OptionFactory.Optional<string>("--data", "Dataset file (.jsonl or .parquet; GSM8K, MATH or {prompt|messages, answer})");
        var split = OptionFactory.WithDefault("--split", "test", "Split of a synthetic task: train, test or harder");
        var samples = OptionFactory.WithDefault("--samples", 4, "k: samples per prompt");
        var temperature = OptionFactory.WithDefault("--temperature", 0.6, "Sampling temperature (R1 evaluates at 0.6)");
        var topP = OptionFactory.WithDefault("--top-p", 0.95, "Nucleus sampling threshold (R1: 0.95)");
        var maxTokens = OptionFactory.WithDefault("--max-tokens", 256, "Most tokens per completion");
        var prompts = OptionFactory.WithDefault("--prompts", 200, "Most prompts to evaluate");
        var seed = OptionFactory.WithDefault("--seed", 0, "Seed of prompt choice and sampling");
        var output = OptionFactory.WithDefault("--out", "eval", "Folder for eval.json and samples.jsonl");
        var threads = OptionFactory.WithDefault("--threads", Environment.ProcessorCount, "CPU threads");
        var command = new Command("eval", "Evaluate a model by DeepSeek-R1's protocol")
            { model, task, data, split, samples, temperature, topP, maxTokens, prompts, seed, output, threads };
        command.SetAction(parse =>
        {
            if (parse.GetValue(samples) < 1) throw new R1Error($"--samples must be at least 1, got {parse.GetValue(samples)}");
            TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            var source = TaskSource.Resolve(parse.GetValue(task), parse.GetValue(data), parse.GetValue(model)!);
            var which = Training.SnakeCase.Parse<TaskSplit>(parse.GetValue(split)!, "--split");
            using var bundle = ModelBundle.Load(parse.GetValue(model)!);
            var options = new ModelEvalOptions
            {
                Prompts = parse.GetValue(prompts), Samples = parse.GetValue(samples), Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP), MaxTokens = parse.GetValue(maxTokens), Seed = parse.GetValue(seed),
            };
            EvalResult result = null!;
            AnsiConsole.Progress().Start(ctx =>
            {
                var bar = ctx.AddTask("generating", maxValue: options.Prompts);
                result = ModelEvaluator.Run(bundle, source, which, options, (done, total) =>
                {
                    bar.MaxValue = total;
                    bar.Value = done;
                });
            });
            string dir = parse.GetValue(output)!;
            Directory.CreateDirectory(dir);
            result.Report.Save(Path.Combine(dir, "eval.json"));
            ScoredSample.WriteJsonl(Path.Combine(dir, "samples.jsonl"), result.Samples);
            AnsiConsole.Write(result.Report.ToTable());
            AnsiConsole.MarkupLineInterpolated($"wrote {Path.Combine(dir, "eval.json")} and {Path.Combine(dir, "samples.jsonl")}");
            return 0;
        });
        return command;
    }
}
