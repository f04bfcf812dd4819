using R1Sharp.Quickstart;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tasks;

/// <summary>
/// Every task a command's <c>--task NAME</c> names (r1 eval, r1 sample, r1 grpo): the synthetic tasks with default
/// knobs, and <c>quickstart</c>, the quickstart's addition task with the digit counts of the run that made the model.
/// </summary>
public static class TaskCatalog
{
    public static readonly IReadOnlyList<string> Names = ["arithmetic", "countdown", "linear", "gcd", "quickstart"];

    /// <param name="modelDir">The model the task is for: quickstart reads its digit counts from the model's run
    /// (&lt;run&gt;/model), or takes the quickstart's defaults for a model made elsewhere.</param>
    public static IVerifiableTask Create(string name, string? modelDir = null) => name.Trim().ToLowerInvariant() switch
    {
        "arithmetic" => new ArithmeticTask(),
        "countdown" => new CountdownTask(),
        "linear" => new LinearEquationTask(),
        "gcd" => new GcdTask(),
        "quickstart" => QuickstartCorpus.Task(modelDir is null ? new QuickstartConfig() : QuickstartConfig.ForModel(modelDir)),
        _ => throw new R1Error($"unknown task '{name}'; known tasks: {string.Join(", ", Names)}"),
    };
}
