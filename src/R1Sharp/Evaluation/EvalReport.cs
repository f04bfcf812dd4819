using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Remote;
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
    /// <summary>For an endpoint's evaluation: the server, and the requests, retries, tokens and wall-clock it took.</summary>
    public EndpointUsage? Endpoint { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Report);

    /// <summary>Writes eval.json (temp file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");

    public static EvalReport Load(string path) => ConfigJson.Deserialize<EvalReport>(File.ReadAllText(path), path, SnakeCase.Report);
}

/// <summary>One graded completion, as a line of the evaluation's samples.jsonl (fields in docs/tasks.md).</summary>
/// <param name="Prompt">The prompt as the model saw it: the task's messages in the model's chat template.</param>
/// <param name="Sample">Index among the prompt's k samples (0-based); null for the greedy completion.</param>
/// <param name="Greedy">The greedy (temperature 0) completion, which gives greedy accuracy; not one of the k samples.</param>
/// <param name="Answer">The canonical final answer (what cons@k votes on), or null if none.</param>
/// <param name="Tokens">Generated tokens, end-of-sequence included.</param>
/// <param name="HitLimit">Cut off at the token limit.</param>
/// <param name="Completion">The generated text, without the end-of-sequence token.</param>
public sealed record ScoredSample(string PromptId, string? Prompt, int? Sample, bool Greedy, string Gold, string? Answer, bool Correct, int Tokens,
    bool HitLimit, string Completion)
{
    static readonly JsonSerializerOptions Json = new(SnakeCase.Json) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Writes one JSON object per line (temp file, then rename).</summary>
    public static void WriteJsonl(string path, IEnumerable<ScoredSample> samples) =>
        JsonlFile.Write(path, samples.Select(sample => JsonSerializer.SerializeToNode(sample, Json)!));
}
