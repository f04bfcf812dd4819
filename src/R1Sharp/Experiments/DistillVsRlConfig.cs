using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Distillation;

namespace R1Sharp.Experiments;

/// <summary>
/// Knobs of `r1 experiment distill-vs-rl`. The quickstart's own settings (task, corpus, pretraining, GRPO, evaluation)
/// come from the teacher's run; these say how small the student is and how the shared wall-clock budget is spent.
/// </summary>
public sealed record DistillVsRlConfig
{
    /// <summary>Wall-clock seconds the student gets for GRPO, and for distillation including the teacher's sampling. Default 180.</summary>
    [JsonPropertyName("budget_seconds")] public double BudgetSeconds { get; init; } = 180;
    /// <summary>Student shape relative to the teacher (see StudentShapes): half = half the layers, width and MLP. Default half.</summary>
    [JsonPropertyName("student_shape")] public string StudentShape { get; init; } = "half";

    // Rejection sampling from the teacher (training-side prompts only).
    /// <summary>Training-side prompts the teacher answers. Default 3000.</summary>
    [JsonPropertyName("sample_prompts")] public int SamplePrompts { get; init; } = 3000;
    /// <summary>
    /// Samples per prompt. Default 1: a right column addition is one text, so more samples of a prompt are mostly
    /// duplicates (dropped) that cost budget; more prompts buy more distinct traces.
    /// </summary>
    [JsonPropertyName("samples_per_prompt")] public int SamplesPerPrompt { get; init; } = 1;
    [JsonPropertyName("sample_temperature")] public double SampleTemperature { get; init; } = 1.0;
    [JsonPropertyName("sample_top_p")] public double SampleTopP { get; init; } = 1.0;
    /// <summary>correct (rejection sampling proper, the default) or all (the tiny smoke run's teacher is never right).</summary>
    [JsonPropertyName("keep")] public TraceKeep Keep { get; init; } = TraceKeep.Correct;
    /// <summary>Keep only the shortest accepted trace per prompt. Default false (every distinct accepted trace).</summary>
    [JsonPropertyName("shortest")] public bool Shortest { get; init; }

    // Distillation (SFT on the traces; logit distillation as an extra row).
    [JsonPropertyName("distill_learning_rate")] public double DistillLearningRate { get; init; } = 1e-3;
    [JsonPropertyName("distill_batch_size")] public int DistillBatchSize { get; init; } = 32;
    /// <summary>Also distil with KL to the teacher's top-k logits, as one more row with the same budget. Default true.</summary>
    [JsonPropertyName("logit_row")] public bool LogitRow { get; init; } = true;
    [JsonPropertyName("top_k")] public int TopK { get; init; } = 20;

    public DistillVsRlConfig Validate()
    {
        if (!(BudgetSeconds > 0)) throw new R1Error($"experiment option budget_seconds = {BudgetSeconds} must be above 0");
        if (SamplePrompts < 1) throw new R1Error($"experiment option sample_prompts = {SamplePrompts} must be at least 1");
        if (SamplesPerPrompt < 1) throw new R1Error($"experiment option samples_per_prompt = {SamplesPerPrompt} must be at least 1");
        return this;
    }

    /// <summary>Keys as in experiment.json's config, enum values snake_case; an unknown key is an error.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public static DistillVsRlConfig FromJson(string json, string source)
    {
        try
        {
            var options = new JsonSerializerOptions(Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
            return (JsonSerializer.Deserialize<DistillVsRlConfig>(json, options) ?? throw new R1Error($"{source}: empty config")).Validate();
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: {e.Message}", e);
        }
    }

    /// <summary>Seconds-long settings for tests (with a tiny quickstart teacher).</summary>
    public static DistillVsRlConfig Tiny => new() { BudgetSeconds = 3, SamplePrompts = 8, SamplesPerPrompt = 2, Keep = TraceKeep.All, DistillBatchSize = 4 };
}
