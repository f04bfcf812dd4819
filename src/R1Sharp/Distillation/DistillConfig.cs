using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Training;

namespace R1Sharp.Distillation;

/// <summary>How the student learns from the teacher.</summary>
public enum DistillMode
{
    /// <summary>Sequence-level: SFT on the teacher's traces (DeepSeek-R1's distillation). Any two tokenizers.</summary>
    Sequence,
    /// <summary>KL to the teacher's top-k next-token distribution on the traces' response tokens; needs a shared tokenizer.</summary>
    Logit,
}

/// <summary>Options of `r1 distill`, as its run's config.json holds them (training options nested under "training").</summary>
public sealed record DistillConfig
{
    /// <summary>sequence (default) or logit.</summary>
    [JsonPropertyName("mode")] public DistillMode Mode { get; init; } = DistillMode.Sequence;
    /// <summary>Teacher tokens per position that logit distillation matches (renormalised over them). Default 20.</summary>
    [JsonPropertyName("top_k")] public int TopK { get; init; } = 20;
    /// <summary>Share of the traces' prompts held out for eval_loss (the student's loss on teacher traces it never trains on). Default 0.05.</summary>
    [JsonPropertyName("held_out_share")] public double HeldOutShare { get; init; } = 0.05;
    /// <summary>The optimizer, schedule, batch and checkpoint options of SFT; learning rate 3e-4 and 200 steps by default.</summary>
    [JsonPropertyName("training")] public LmTrainingConfig Training { get; init; } = new() { LearningRate = 3e-4, MaxSteps = 200 };

    public DistillConfig Validate()
    {
        if (TopK < 1) throw new R1Error($"distill option top_k = {TopK} must be at least 1");
        if (HeldOutShare is < 0 or >= 1) throw new R1Error($"distill option held_out_share = {HeldOutShare} must be in [0, 1)");
        Training.Validate();
        return this;
    }

    public static DistillConfig FromJson(string json, string source)
    {
        try
        {
            var options = new JsonSerializerOptions(SnakeCase.Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
            return (JsonSerializer.Deserialize<DistillConfig>(json, options) ?? throw new R1Error($"{source}: empty config")).Validate();
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: {e.Message}", e);
        }
    }
}
