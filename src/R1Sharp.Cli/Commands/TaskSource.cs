using System.CommandLine;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Training;

namespace R1Sharp.Cli.Commands;

/// <summary>The verifiable task a command's --task NAME or --data FILE names (r1 sample, r1 eval, r1 grpo).</summary>
static class TaskSource
{
    /// <summary>Help text of --task.</summary>
    public static string TaskHelp => $"Task: {string.Join(", ", TaskCatalog.Names)} (quickstart: the quickstart's addition task, digits as in the model's run)";

    /// <summary>The task of --task (for the model in <paramref name="modelDir"/>; null for an endpoint, which has no folder) or --data.</summary>
    public static IVerifiableTask Resolve(string? taskName, string? dataPath, string? modelDir)
    {
        if ((taskName is null) == (dataPath is null)) throw new R1Error("give exactly one of --task and --data");
        return dataPath is not null ? DatasetTask.Load(dataPath) : TaskCatalog.Create(taskName!, modelDir);
    }
}

/// <summary>
/// What `r1 eval` and `r1 sample` both take: a model, the task (--task or --data) and split to draw prompts from, and
/// how to sample them (k, temperature, top-p, token limit, prompts, seed, threads).
/// </summary>
sealed record TaskSamplingOptions(Option<string?> Model, Option<string?> Task, Option<string?> Data, Option<string> Split, Option<int> Samples,
    Option<double> Temperature, Option<double> TopP, Option<int> MaxTokens, Option<int> Prompts, Option<int> Seed, Option<int> Threads)
{
    public static TaskSamplingOptions AddTo(Command command, string modelHelp, string split, string samplesHelp, string maxTokensHelp)
    {
        var o = new TaskSamplingOptions(
            OptionFactory.Optional<string>("--model", modelHelp + " (or --endpoint)").MustBePath(),
            OptionFactory.Optional<string>("--task", TaskSource.TaskHelp),
            OptionFactory.OptionalPath("--data", "Dataset file (.jsonl or .parquet; GSM8K, MATH or {prompt|messages, answer})"),
            OptionFactory.WithDefault("--split", split, "Split of a synthetic task: train, test or harder"),
            OptionFactory.WithDefault("--samples", 4, samplesHelp).AtLeast(1),
            OptionFactory.WithDefault("--temperature", 0.6, "Sampling temperature (R1 evaluates at 0.6)"),
            OptionFactory.WithDefault("--top-p", 0.95, "Nucleus sampling threshold (R1: 0.95)"),
            OptionFactory.WithDefault("--max-tokens", 256, maxTokensHelp).AtLeast(1),
            OptionFactory.WithDefault("--prompts", 200, "Most prompts to use").AtLeast(1),
            OptionFactory.WithDefault("--seed", 0, "Seed of prompt choice and sampling"),
            OptionFactory.Threads());
        foreach (var option in new Option[] { o.Model, o.Task, o.Data, o.Split, o.Samples, o.Temperature, o.TopP, o.MaxTokens, o.Prompts, o.Seed, o.Threads })
            command.Options.Add(option);
        return o;
    }

    /// <summary>Sets the threads; returns the model folder (null with --endpoint), the task and the split the command line names.</summary>
    public (string? ModelDir, IVerifiableTask Task, TaskSplit Split) Resolve(ParseResult parse)
    {
        TorchSharp.torch.set_num_threads(parse.GetValue(Threads));
        string? modelDir = parse.GetValue(Model);
        return (modelDir, TaskSource.Resolve(parse.GetValue(Task), parse.GetValue(Data), modelDir), SnakeCase.Parse<TaskSplit>(parse.GetValue(Split)!, "--split"));
    }
}
