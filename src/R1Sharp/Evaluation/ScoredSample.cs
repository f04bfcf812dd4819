using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Sharp.Evaluation;

/// <summary>One graded completion, as written to the evaluation's JSONL output.</summary>
/// <param name="Sample">Index among the prompt's samples; -1 for the greedy completion.</param>
/// <param name="Answer">The canonical final answer (what cons@k votes on), or null if none.</param>
public sealed record ScoredSample(
    [property: JsonPropertyName("prompt_id")] string PromptId,
    [property: JsonPropertyName("sample")] int Sample,
    [property: JsonPropertyName("gold")] string Gold,
    [property: JsonPropertyName("answer")] string? Answer,
    [property: JsonPropertyName("correct")] bool Correct,
    [property: JsonPropertyName("tokens")] int Tokens,
    [property: JsonPropertyName("hit_limit")] bool HitLimit,
    [property: JsonPropertyName("completion")] string Completion)
{
    public const int GreedySample = -1;

    // Keep non-ASCII completions readable in the file.
    static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes one JSON object per line (temp file, then rename).</summary>
    public static void WriteJsonl(string path, IEnumerable<ScoredSample> samples) =>
        AtomicFile.Write(path, temp =>
        {
            using var writer = new StreamWriter(temp);
            foreach (var sample in samples) writer.WriteLine(JsonSerializer.Serialize(sample, Json));
        });
}
