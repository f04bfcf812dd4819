using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Sharp.Training;

/// <summary>
/// Options of `r1 pretrain` and `r1 sft` (next-token loss). Names follow Hugging Face TrainingArguments where one
/// exists; defaults suit the small CPU models R1Sharp trains from scratch (nanoGPT-like), not billion-parameter ones.
/// </summary>
public sealed record LmTrainingConfig
{
    /// <summary>Peak AdamW learning rate after warm-up. Default 1e-3.</summary>
    [JsonPropertyName("learning_rate")] public double LearningRate { get; init; } = 1e-3;
    /// <summary>Decay after warm-up: linear, cosine or constant. Default cosine.</summary>
    [JsonPropertyName("lr_scheduler_type")] public LrSchedulerType LrSchedulerType { get; init; } = LrSchedulerType.Cosine;
    /// <summary>Linear warm-up steps. Default 50.</summary>
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; init; } = 50;
    /// <summary>The decay's floor as a fraction of the peak. Default 0.1.</summary>
    [JsonPropertyName("min_lr_rate")] public double MinLrRate { get; init; } = 0.1;
    /// <summary>AdamW decoupled weight decay on matrices. Default 0.1.</summary>
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.1;
    [JsonPropertyName("adam_beta1")] public double AdamBeta1 { get; init; } = 0.9;
    /// <summary>0.95, as nanoGPT and most LLM pretraining (HF's default is 0.999).</summary>
    [JsonPropertyName("adam_beta2")] public double AdamBeta2 { get; init; } = 0.95;
    [JsonPropertyName("adam_epsilon")] public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clip; 0 disables. Default 1.0.</summary>
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Micro-batches per optimizer step. Default 1.</summary>
    [JsonPropertyName("gradient_accumulation_steps")] public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Sequences per micro-batch. Default 32.</summary>
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 32;
    /// <summary>Tokens per packed sequence (pretraining) or most tokens per example (SFT). Default 256.</summary>
    [JsonPropertyName("max_seq_length")] public int MaxSeqLength { get; init; } = 256;
    /// <summary>Optimizer steps; the learning-rate schedule spans them. Default 500.</summary>
    [JsonPropertyName("max_steps")] public int MaxSteps { get; init; } = 500;
    /// <summary>Stop early after this much wall-clock; 0 means no limit. Default 0.</summary>
    [JsonPropertyName("max_seconds")] public double MaxSeconds { get; init; }
    /// <summary>Held-out loss every this many steps; 0 never. Default 100.</summary>
    [JsonPropertyName("eval_steps")] public int EvalSteps { get; init; } = 100;
    /// <summary>Batches of held-out data per evaluation. Default 4.</summary>
    [JsonPropertyName("eval_batches")] public int EvalBatches { get; init; } = 4;
    /// <summary>A metrics line every this many steps. Default 10.</summary>
    [JsonPropertyName("logging_steps")] public int LoggingSteps { get; init; } = 10;
    /// <summary>Checkpoint every this many steps; 0 only at the end. Default 100.</summary>
    [JsonPropertyName("save_steps")] public int SaveSteps { get; init; } = 100;
    [JsonPropertyName("save_total_limit")] public int SaveTotalLimit { get; init; } = 2;
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>γ of DeepSeek-V3's auxiliary-loss-free MoE balancing (0.001 in V3's pretraining); no effect on dense models.</summary>
    [JsonPropertyName("router_bias_update_speed")] public double RouterBiasUpdateSpeed { get; init; } = 0.001;

    public LmTrainingConfig Validate()
    {
        void Require(bool ok, string key, object value, string rule)
        {
            if (!ok) throw new R1Error($"training option {key} = {value} {rule}");
        }
        Require(LearningRate > 0, "learning_rate", LearningRate, "must be above 0");
        Require(WarmupSteps >= 0, "warmup_steps", WarmupSteps, "must be 0 or more");
        Require(MinLrRate is >= 0 and <= 1, "min_lr_rate", MinLrRate, "must be in [0, 1]");
        Require(WeightDecay >= 0, "weight_decay", WeightDecay, "must be 0 or more");
        Require(MaxGradNorm >= 0, "max_grad_norm", MaxGradNorm, "must be 0 (off) or more");
        Require(GradientAccumulationSteps >= 1, "gradient_accumulation_steps", GradientAccumulationSteps, "must be at least 1");
        Require(BatchSize >= 1, "batch_size", BatchSize, "must be at least 1");
        Require(MaxSeqLength >= 2, "max_seq_length", MaxSeqLength, "must be at least 2");
        Require(MaxSteps >= 1, "max_steps", MaxSteps, "must be at least 1");
        Require(MaxSeconds >= 0, "max_seconds", MaxSeconds, "must be 0 (no limit) or more");
        Require(EvalSteps >= 0, "eval_steps", EvalSteps, "must be 0 or more");
        Require(LoggingSteps >= 1, "logging_steps", LoggingSteps, "must be at least 1");
        Require(SaveSteps >= 0, "save_steps", SaveSteps, "must be 0 or more");
        Require(SaveTotalLimit >= 1, "save_total_limit", SaveTotalLimit, "must be at least 1");
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Json);

    public static LmTrainingConfig FromJson(string json, string source)
    {
        try
        {
            var options = new JsonSerializerOptions(SnakeCase.Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
            return (JsonSerializer.Deserialize<LmTrainingConfig>(json, options) ?? throw new R1Error($"{source}: empty config")).Validate();
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: {e.Message}", e);
        }
    }
}
