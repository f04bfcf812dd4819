using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace R1Sharp.Evaluation;

/// <summary>How the generations were made, recorded next to the scores so numbers can be reproduced.</summary>
public sealed record EvalSettings(
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("temperature")] double Temperature,
    [property: JsonPropertyName("top_p")] double TopP,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("seed")] int Seed);

/// <summary>
/// The summary of an evaluation by R1's protocol: pass@1 as mean correctness over k samples, unbiased pass@k,
/// cons@k (majority vote), greedy accuracy, response length and truncation. Saved as eval.json; shown as a table.
/// </summary>
public sealed record EvalReport
{
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("prompts")] public required int Prompts { get; init; }
    /// <summary>k: samples per prompt (the fewest, if prompts differ).</summary>
    [JsonPropertyName("samples_per_prompt")] public required int SamplesPerPrompt { get; init; }
    [JsonPropertyName("pass@1")] public required double PassAt1 { get; init; }
    /// <summary>Unbiased pass@k for k = 1, 2, 4, …, k.</summary>
    [JsonPropertyName("pass@k")] public required IReadOnlyDictionary<int, double> PassAtK { get; init; }
    [JsonPropertyName("cons@k")] public required double ConsAtK { get; init; }
    /// <summary>Accuracy of the greedy completions; null when none were given.</summary>
    [JsonPropertyName("greedy_accuracy")] public double? GreedyAccuracy { get; init; }
    [JsonPropertyName("mean_response_tokens")] public required double MeanResponseTokens { get; init; }
    /// <summary>Share of sampled completions cut off at the token limit.</summary>
    [JsonPropertyName("hit_limit_share")] public required double HitLimitShare { get; init; }
    /// <summary>Share of sampled completions with no single final answer.</summary>
    [JsonPropertyName("no_answer_share")] public required double NoAnswerShare { get; init; }
    [JsonPropertyName("settings")] public EvalSettings? Settings { get; init; }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes eval.json (temp file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    public static EvalReport Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(path), Json) ?? throw new R1Error($"{path}: empty eval report");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: not an eval report ({e.Message})", e);
        }
    }

    /// <summary>The summary as a console table.</summary>
    public Table ToTable()
    {
        var table = new Table().Title($"eval: {Markup.Escape(Task)}").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        void Row(string metric, string value) => table.AddRow(Markup.Escape(metric), value);
        Row("prompts", Prompts.ToString(CultureInfo.InvariantCulture));
        Row("samples per prompt (k)", SamplesPerPrompt.ToString(CultureInfo.InvariantCulture));
        Row($"pass@1 (mean over {SamplesPerPrompt})", Percent(PassAt1));
        foreach (var (k, value) in PassAtK.Where(kv => kv.Key > 1)) Row($"pass@{k}", Percent(value));
        Row($"cons@{SamplesPerPrompt}", Percent(ConsAtK));
        if (GreedyAccuracy is { } greedy) Row("greedy accuracy", Percent(greedy));
        Row("mean response tokens", MeanResponseTokens.ToString("F1", CultureInfo.InvariantCulture));
        Row("hit token limit", Percent(HitLimitShare));
        Row("no final answer", Percent(NoAnswerShare));
        return table;
    }

    static string Percent(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
