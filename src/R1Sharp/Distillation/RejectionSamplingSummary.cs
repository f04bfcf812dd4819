using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Tasks;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Distillation;

/// <summary>One prompt's k samples: how many passed each check, how many were accepted and how many were written.</summary>
public sealed record PromptAcceptance(
    [property: JsonPropertyName("prompt_id")] string PromptId,
    [property: JsonPropertyName("samples")] int Samples,
    [property: JsonPropertyName("correct")] int Correct,
    [property: JsonPropertyName("well_formed")] int WellFormed,
    [property: JsonPropertyName("finished")] int Finished,
    [property: JsonPropertyName("accepted")] int Accepted,
    [property: JsonPropertyName("kept")] int Kept)
{
    /// <summary>Accepted samples ÷ samples drawn (before deduplication).</summary>
    [JsonPropertyName("acceptance_rate")] public double AcceptanceRate => (double)Accepted / Samples;
}

/// <summary>
/// The summary `r1 sample` writes beside its traces (&lt;out&gt;.summary.json) and prints: the acceptance rate overall
/// and per prompt, and the settings that reproduce the file.
/// </summary>
public sealed record RejectionSamplingSummary
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("split")] public required string Split { get; init; }
    [JsonPropertyName("samples_per_prompt")] public required int SamplesPerPrompt { get; init; }
    [JsonPropertyName("temperature")] public required double Temperature { get; init; }
    [JsonPropertyName("top_p")] public required double TopP { get; init; }
    [JsonPropertyName("max_tokens")] public required int MaxTokens { get; init; }
    [JsonPropertyName("seed")] public required int Seed { get; init; }
    [JsonPropertyName("keep")] public required string Keep { get; init; }
    [JsonPropertyName("shortest")] public required bool Shortest { get; init; }
    [JsonPropertyName("prompts")] public required int Prompts { get; init; }
    [JsonPropertyName("samples")] public required int Samples { get; init; }
    [JsonPropertyName("correct")] public required int Correct { get; init; }
    [JsonPropertyName("well_formed")] public required int WellFormed { get; init; }
    [JsonPropertyName("accepted")] public required int Accepted { get; init; }
    /// <summary>Accepted ÷ sampled, over all prompts.</summary>
    [JsonPropertyName("acceptance_rate")] public required double AcceptanceRate { get; init; }
    /// <summary>Share of prompts with at least one accepted sample (the prompts the traces cover).</summary>
    [JsonPropertyName("prompts_with_accepted")] public required double PromptsWithAccepted { get; init; }
    [JsonPropertyName("traces_written")] public required int TracesWritten { get; init; }
    [JsonPropertyName("mean_trace_tokens")] public required double MeanTraceTokens { get; init; }
    [JsonPropertyName("seconds")] public required double Seconds { get; init; }
    [JsonPropertyName("per_prompt")] public required IReadOnlyList<PromptAcceptance> PerPrompt { get; init; }

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

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static RejectionSamplingSummary Load(string path) =>
        JsonSerializer.Deserialize<RejectionSamplingSummary>(File.ReadAllText(path), Json) ?? throw new R1Error($"{path}: empty summary");

    /// <summary>The overall figures, how acceptance spreads over prompts, and the first <paramref name="promptRows"/> prompts.</summary>
    public IEnumerable<Table> ToTables(int promptRows = 20)
    {
        var overall = new Table().Title($"rejection sampling: {Markup.Escape(Task)} ({Split}), k = {SamplesPerPrompt}")
            .AddColumn("").AddColumn(new TableColumn("value").RightAligned());
        overall.AddRow("prompts", Prompts.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("samples", Samples.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("correct", Percent(Correct, Samples));
        overall.AddRow("well-formed", Percent(WellFormed, Samples));
        overall.AddRow("[bold]accepted[/] (correct, well-formed, finished)", Percent(Accepted, Samples));
        overall.AddRow("prompts with an accepted sample", Percent(PromptsWithAccepted));
        overall.AddRow($"traces written ({Keep}{(Shortest ? ", shortest" : "")}, deduplicated)", TracesWritten.ToString(CultureInfo.InvariantCulture));
        overall.AddRow("mean trace tokens", MeanTraceTokens.ToString("F1", CultureInfo.InvariantCulture));
        overall.AddRow("seconds", Seconds.ToString("F1", CultureInfo.InvariantCulture));
        yield return overall;

        // How many prompts had each acceptance count: 0 of k, 1 of k, ... k of k.
        var spread = new Table().Title("prompts by accepted samples").AddColumn("accepted of k").AddColumn(new TableColumn("prompts").RightAligned());
        foreach (var bucket in PerPrompt.GroupBy(p => (p.Accepted, p.Samples)).OrderBy(g => g.Key.Accepted))
            spread.AddRow($"{bucket.Key.Accepted} of {bucket.Key.Samples}", Percent(bucket.Count(), Prompts) + $" ({bucket.Count()})");
        yield return spread;

        var prompts = new Table().Title(PerPrompt.Count > promptRows ? $"first {promptRows} of {PerPrompt.Count} prompts (all in the summary file)" : "per prompt")
            .AddColumn("prompt").AddColumn(new TableColumn("correct").RightAligned()).AddColumn(new TableColumn("well-formed").RightAligned())
            .AddColumn(new TableColumn("accepted").RightAligned()).AddColumn(new TableColumn("kept").RightAligned());
        foreach (var p in PerPrompt.Take(promptRows))
            prompts.AddRow(Markup.Escape(p.PromptId), $"{p.Correct}/{p.Samples}", $"{p.WellFormed}/{p.Samples}",
                Percent(p.AcceptanceRate), p.Kept.ToString(CultureInfo.InvariantCulture));
        yield return prompts;
    }

    static string Percent(int part, int whole) => Percent(whole == 0 ? 0 : (double)part / whole);
    static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
