using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Training;

namespace R1Sharp.Evaluation;

/// <summary>How the generations were made, recorded next to the scores so numbers can be reproduced.</summary>
public sealed record EvalSettings(string? Model, double Temperature, double TopP, int MaxTokens, int Seed);

/// <summary>
/// The summary of an evaluation by R1's protocol: pass@1 as mean correctness over k samples, unbiased pass@k,
/// cons@k (majority vote), greedy accuracy, response length and truncation. Saved as eval.json; shown as a table.
/// </summary>
public sealed record EvalReport
{
    public required string Task { get; init; }
    public required int Prompts { get; init; }
    /// <summary>k: samples per prompt (the fewest, if prompts differ).</summary>
    public required int SamplesPerPrompt { get; init; }
    [JsonPropertyName("pass@1")] public required double PassAt1 { get; init; }
    /// <summary>Unbiased pass@k for k = 1, 2, 4, …, k.</summary>
    [JsonPropertyName("pass@k")] public required IReadOnlyDictionary<int, double> PassAtK { get; init; }
    [JsonPropertyName("cons@k")] public required double ConsAtK { get; init; }
    /// <summary>Accuracy of the greedy completions; null when none were given.</summary>
    public double? GreedyAccuracy { get; init; }
    public required double MeanResponseTokens { get; init; }
    /// <summary>Share of sampled completions cut off at the token limit.</summary>
    public required double HitLimitShare { get; init; }
    /// <summary>Share of sampled completions with no single final answer.</summary>
    public required double NoAnswerShare { get; init; }
    public EvalSettings? Settings { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Report);

    /// <summary>Writes eval.json (temp file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    public static EvalReport Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<EvalReport>(File.ReadAllText(path), SnakeCase.Report) ?? throw new R1Error($"{path}: empty eval report");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: not an eval report ({e.Message})", e);
        }
    }
}

/// <summary>One graded completion, as written to the evaluation's JSONL output.</summary>
/// <param name="Sample">Index among the prompt's samples; -1 for the greedy completion.</param>
/// <param name="Answer">The canonical final answer (what cons@k votes on), or null if none.</param>
public sealed record ScoredSample(string PromptId, int Sample, string Gold, string? Answer, bool Correct, int Tokens, bool HitLimit,
    string Completion)
{
    public const int GreedySample = -1;

    // One line per sample; non-ASCII completions kept readable.
    static readonly JsonSerializerOptions Json = new(SnakeCase.Report) { WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Writes one JSON object per line (temp file, then rename).</summary>
    public static void WriteJsonl(string path, IEnumerable<ScoredSample> samples) =>
        AtomicFile.Write(path, temp =>
        {
            using var writer = new StreamWriter(temp);
            foreach (var sample in samples) writer.WriteLine(JsonSerializer.Serialize(sample, Json));
        });
}
