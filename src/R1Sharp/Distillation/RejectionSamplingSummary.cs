using System.Text.Json;
using R1Sharp.Remote;
using R1Sharp.Runs;
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
/// <param name="Model">The teacher: its folder, or the endpoint's model name.</param>
/// <param name="Task">The task (or data file) and <paramref name="Split"/> the prompts came from.</param>
/// <param name="Keep">Which samples became traces: correct (accepted ones) or all.</param>
/// <param name="Shortest">Only the shortest kept trace of each prompt.</param>
/// <param name="Samples">Samples drawn in all: prompts × k.</param>
/// <param name="AcceptanceRate">Accepted ÷ sampled, over all prompts.</param>
/// <param name="PromptsWithAccepted">Share of prompts with at least one accepted sample (the prompts the traces cover).</param>
/// <param name="Seconds">This run's wall-clock.</param>
/// <param name="Endpoint">For a teacher endpoint: the server, and the requests, retries, tokens and wall-clock of every run
/// that wrote the file (a resumed file counts its earlier runs too); it stands in for <paramref name="Cost"/>, since the
/// compute is the server's.</param>
/// <param name="ResumedPrompts">For a teacher endpoint: prompts already done by an earlier run, skipped by this one.</param>
/// <param name="Cost">What the sampling cost (its cost card).</param>
public sealed record RejectionSamplingSummary(
    string Model, string Task, string Split,
    int SamplesPerPrompt, double Temperature, double TopP, int MaxTokens, int Seed, string Keep, bool Shortest,
    int Prompts, int Samples, int Correct, int WellFormed, int Accepted, double AcceptanceRate, double PromptsWithAccepted,
    int TracesWritten, double MeanTraceTokens, double Seconds, IReadOnlyList<PromptAcceptance> PerPrompt, CostCard? Cost = null,
    EndpointUsage? Endpoint = null, int? ResumedPrompts = null)
{
    /// <param name="traces">Traces written, and <paramref name="traceTokens"/> their tokens in all.</param>
    public static RejectionSamplingSummary From(IReadOnlyList<PromptAcceptance> perPrompt, int traces, long traceTokens,
        RejectionSamplingOptions options, string task, TaskSplit split, string model, double seconds, EndpointUsage? endpoint = null,
        int? resumedPrompts = null)
    {
        int samples = perPrompt.Sum(p => p.Samples), accepted = perPrompt.Sum(p => p.Accepted);
        return new RejectionSamplingSummary(model, task, SnakeCase.Name(split),
            options.Samples, options.Temperature, options.TopP, options.MaxTokens, options.Seed, SnakeCase.Name(options.Keep), options.Shortest,
            perPrompt.Count, samples, perPrompt.Sum(p => p.Correct), perPrompt.Sum(p => p.WellFormed), accepted,
            samples == 0 ? 0 : (double)accepted / samples, perPrompt.Count == 0 ? 0 : (double)perPrompt.Count(p => p.Accepted > 0) / perPrompt.Count,
            traces, traces == 0 ? 0 : (double)traceTokens / traces, seconds, perPrompt, Endpoint: endpoint, ResumedPrompts: resumedPrompts);
    }

    /// <summary>Where the summary of traces file <paramref name="tracesPath"/> goes: traces.jsonl → traces.summary.json.</summary>
    public static string PathFor(string tracesPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tracesPath))!, Path.GetFileNameWithoutExtension(tracesPath) + ".summary.json");

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, SnakeCase.Report) + "\n");

    public static RejectionSamplingSummary Load(string path) => ConfigJson.Deserialize<RejectionSamplingSummary>(File.ReadAllText(path), path, SnakeCase.Report);
}
