using R1Sharp.Quickstart;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;

namespace R1Sharp.Cli.Commands;

/// <summary>The verifiable task a command's --task NAME or --data FILE names (r1 sample, r1 eval, r1 grpo).</summary>
static class TaskSource
{
    /// <summary>Help text of --task.</summary>
    public static string TaskHelp => $"Synthetic task: {string.Join(", ", TaskCatalog.Names)}, or quickstart (the quickstart's addition task, digits as in the model's run)";

    /// <summary>"quickstart" is the quickstart's addition task, with the digit counts of <paramref name="modelDir"/>'s run.</summary>
    public static IVerifiableTask Resolve(string? taskName, string? dataPath, string modelDir)
    {
        if ((taskName is null) == (dataPath is null)) throw new R1Error("give exactly one of --task and --data");
        if (dataPath is not null) return DatasetTask.Load(dataPath);
        return taskName!.Equals("quickstart", StringComparison.OrdinalIgnoreCase)
            ? QuickstartCorpus.Task(QuickstartConfig.ForModel(modelDir))
            : TaskCatalog.Create(taskName);
    }
}
