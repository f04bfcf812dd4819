using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tasks;

/// <summary>The synthetic tasks by name, with default knobs (what `r1 eval --task NAME` and training configs refer to).</summary>
public static class TaskCatalog
{
    public static readonly IReadOnlyList<string> Names = ["arithmetic", "countdown", "linear", "gcd"];

    public static IVerifiableTask Create(string name) => name.ToLowerInvariant() switch
    {
        "arithmetic" => new ArithmeticTask(),
        "countdown" => new CountdownTask(),
        "linear" => new LinearEquationTask(),
        "gcd" => new GcdTask(),
        _ => throw new R1Error($"unknown task '{name}'; known tasks: {string.Join(", ", Names)}"),
    };
}
