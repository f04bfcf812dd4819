using System.Text.Json;
using R1Sharp.Tasks;
using R1Sharp.Training;

namespace R1Sharp.Distillation;

/// <summary>One prompt's k samples: how many passed each check, how many were accepted and how many were written.</summary>
public sealed record PromptAcceptance(string PromptId, int Samples, int Correct, int WellFormed, int Finished, int Accepted, int Kept)
{
    /// <summary>Accepted samples ÷ samples drawn (before deduplication).</summary>
    public double AcceptanceRate => (double)Accepted / Samples;
}

/// <summary>
/// The summary `r1 sample` writes beside its traces (&lt;out&gt;.summary.json) and prints: the acceptance rate overall
/// and per prompt, and the settings that reproduce the file.
/// </summary>
public sealed record RejectionSamplingSummary
{
    public required string Model { get; init; }
    public required string Task { get; init; }
    public required string Split { get; init; }
    public required int SamplesPerPrompt { get; init; }
    public required double Temperature { get; init; }
    public required double TopP { get; init; }
    public required int MaxTokens { get; init; }
    public required int Seed { get; init; }
    public required string Keep { get; init; }
    public required bool Shortest { get; init; }
    public required int Prompts { get; init; }
    public required int Samples { get; init; }
    public required int Correct { get; init; }
    public required int WellFormed { get; init; }
    public required int Accepted { get; init; }
    /// <summary>Accepted ÷ sampled, over all prompts.</summary>
    public required double AcceptanceRate { get; init; }
    /// <summary>Share of prompts with at least one accepted sample (the prompts the traces cover).</summary>
    public required double PromptsWithAccepted { get; init; }
    public required int TracesWritten { get; init; }
    public required double MeanTraceTokens { get; init; }
    public required double Seconds { get; init; }
    public required IReadOnlyList<PromptAcceptance> PerPrompt { get; init; }

    public static RejectionSamplingSummary From(IReadOnlyList<PromptAcceptance> perPrompt, IReadOnlyList<DistillationTrace> traces,
        RejectionSamplingOptions options, string task, TaskSplit split, string model, double seconds)
    {
        int samples = perPrompt.Sum(p => p.Samples);
        return new RejectionSamplingSummary
        {
            Model = model, Task = task, Split = SnakeCase.Name(split), SamplesPerPrompt = options.Samples,
            Temperature = options.Temperature, TopP = options.TopP, MaxTokens = options.MaxTokens, Seed = options.Seed,
            Keep = SnakeCase.Name(options.Keep), Shortest = options.Shortest,
            Prompts = perPrompt.Count, Samples = samples,
            Correct = perPrompt.Sum(p => p.Correct), WellFormed = perPrompt.Sum(p => p.WellFormed), Accepted = perPrompt.Sum(p => p.Accepted),
            AcceptanceRate = samples == 0 ? 0 : (double)perPrompt.Sum(p => p.Accepted) / samples,
            PromptsWithAccepted = perPrompt.Count == 0 ? 0 : (double)perPrompt.Count(p => p.Accepted > 0) / perPrompt.Count,
            TracesWritten = traces.Count, MeanTraceTokens = traces.Count == 0 ? 0 : traces.Average(t => t.Tokens),
            Seconds = seconds, PerPrompt = perPrompt,
        };
    }

    /// <summary>Where the summary of traces file <paramref name="tracesPath"/> goes: traces.jsonl → traces.summary.json.</summary>
    public static string PathFor(string tracesPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tracesPath))!, Path.GetFileNameWithoutExtension(tracesPath) + ".summary.json");

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, SnakeCase.Report) + "\n");

    public static RejectionSamplingSummary Load(string path) =>
        JsonSerializer.Deserialize<RejectionSamplingSummary>(File.ReadAllText(path), SnakeCase.Report) ?? throw new R1Error($"{path}: empty summary");
}
