using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Sharp.Training;

/// <summary>
/// Options of a GRPO run. Names and defaults follow TRL's <c>GRPOConfig</c> (and the <c>TrainingArguments</c> it
/// inherits) so a user can move a recipe between TRL and R1Sharp; the JSON keys of <c>config.json</c> are TRL's
/// snake_case keys. Options TRL does not have (<c>prompts_per_step</c>, <c>dynamic_sampling</c>, ...) say so.
/// </summary>
public sealed record GrpoConfig
{
    // --- Sampling ---

    /// <summary>G, completions sampled per prompt; the group the advantage is centred on. TRL default 8.</summary>
    [JsonPropertyName("num_generations")] public int NumGenerations { get; init; } = 8;

    /// <summary>Prompts per optimizer step (not a TRL key: TRL's <c>generation_batch_size</c> = this × G).</summary>
    [JsonPropertyName("prompts_per_step")] public int PromptsPerStep { get; init; } = 16;

    /// <summary>Prompt tokens kept (from the left) before generation. Older TRL's key; default 512.</summary>
    [JsonPropertyName("max_prompt_length")] public int MaxPromptLength { get; init; } = 512;

    /// <summary>Most tokens generated per completion; a completion that reaches it is truncated. TRL default 512.</summary>
    [JsonPropertyName("max_completion_length")] public int MaxCompletionLength { get; init; } = 512;

    /// <summary>Rollout sampling temperature. TRL default 1.0.</summary>
    [JsonPropertyName("temperature")] public double Temperature { get; init; } = 1.0;

    /// <summary>Rollout nucleus sampling; 1.0 keeps every token. TRL default 1.0.</summary>
    [JsonPropertyName("top_p")] public double TopP { get; init; } = 1.0;

    /// <summary>Rollout top-k; 0 disables it. TRL default 0.</summary>
    [JsonPropertyName("top_k")] public int TopK { get; init; }

    // --- Algorithm ---

    /// <summary>Weight of the k3 KL to the frozen reference; 0 (TRL's default) skips the reference model. R1 used 0.001.</summary>
    [JsonPropertyName("beta")] public double Beta { get; init; }

    /// <summary>Lower clip range: the ratio is clipped below at 1 − epsilon. TRL default 0.2.</summary>
    [JsonPropertyName("epsilon")] public double Epsilon { get; init; } = 0.2;

    /// <summary>Upper clip range (clip-higher, DAPO uses 0.28); null means the same as <see cref="Epsilon"/>.</summary>
    [JsonPropertyName("epsilon_high")] public double? EpsilonHigh { get; init; }

    /// <summary>μ, optimizer updates per rollout batch; above 1 the ratio to the old policy departs from 1. TRL default 1.</summary>
    [JsonPropertyName("num_iterations")] public int NumIterations { get; init; } = 1;

    /// <summary>How token losses are aggregated; TRL's default is dapo.</summary>
    [JsonPropertyName("loss_type")] public LossType LossType { get; init; } = LossType.Dapo;

    /// <summary>What centred rewards are divided by; TRL default group.</summary>
    [JsonPropertyName("scale_rewards")] public ScaleRewards ScaleRewards { get; init; } = ScaleRewards.Group;

    /// <summary>Leave completions that hit max_completion_length out of the loss (DAPO's overlong filtering). TRL default false.</summary>
    [JsonPropertyName("mask_truncated_completions")] public bool MaskTruncatedCompletions { get; init; }

    /// <summary>Weight of each reward function, in order; null weighs each 1. TRL key.</summary>
    [JsonPropertyName("reward_weights")] public IReadOnlyList<double>? RewardWeights { get; init; }

    /// <summary>DAPO dynamic sampling: drop groups whose rewards are all equal and sample more prompts until the
    /// step is full. Not in TRL (verl calls it <c>filter_groups</c>). Default false.</summary>
    [JsonPropertyName("dynamic_sampling")] public bool DynamicSampling { get; init; }

    /// <summary>With dynamic sampling, most generation rounds per step before training on what was kept (verl's
    /// name). Default 10.</summary>
    [JsonPropertyName("max_num_gen_batches")] public int MaxNumGenBatches { get; init; } = 10;

    // --- Optimisation (TrainingArguments names) ---

    /// <summary>Peak AdamW learning rate. TRL default 1e-6 (sized for billion-parameter models; tiny models want ~1e-4).</summary>
    [JsonPropertyName("learning_rate")] public double LearningRate { get; init; } = 1e-6;

    /// <summary>Shape after warm-up. Hugging Face default linear.</summary>
    [JsonPropertyName("lr_scheduler_type")] public LrSchedulerType LrSchedulerType { get; init; } = LrSchedulerType.Linear;

    /// <summary>Steps of linear warm-up from 0 to the peak. Default 0.</summary>
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; init; }

    /// <summary>Floor of the decay as a fraction of the peak (Hugging Face's cosine_with_min_lr <c>min_lr_rate</c>). Default 0.</summary>
    [JsonPropertyName("min_lr_rate")] public double MinLrRate { get; init; }

    /// <summary>Decoupled AdamW weight decay, applied to matrices only (not norms or biases). Default 0.</summary>
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; }

    [JsonPropertyName("adam_beta1")] public double AdamBeta1 { get; init; } = 0.9;
    [JsonPropertyName("adam_beta2")] public double AdamBeta2 { get; init; } = 0.999;
    [JsonPropertyName("adam_epsilon")] public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Global gradient-norm clip; 0 disables. Default 1.0.</summary>
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Micro-batches whose gradients are summed before one optimizer step. Default 1.</summary>
    [JsonPropertyName("gradient_accumulation_steps")] public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Optimizer steps in the run.</summary>
    [JsonPropertyName("max_steps")] public int MaxSteps { get; init; } = 100;

    /// <summary>Seed of every random choice (prompt order, sampling). Hugging Face default 42.</summary>
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;

    // --- Logging and saving ---

    /// <summary>Write sample completions to samples.jsonl every this many steps. Default 10 (TRL's logging_steps).</summary>
    [JsonPropertyName("logging_steps")] public int LoggingSteps { get; init; } = 10;

    /// <summary>Checkpoint every this many steps; 0 only at the end. Default 50.</summary>
    [JsonPropertyName("save_steps")] public int SaveSteps { get; init; } = 50;

    /// <summary>Checkpoints kept (oldest deleted first). Default 2.</summary>
    [JsonPropertyName("save_total_limit")] public int SaveTotalLimit { get; init; } = 2;

    /// <summary>Held-out evaluation every this many steps; 0 never. Default 0.</summary>
    [JsonPropertyName("eval_steps")] public int EvalSteps { get; init; }

    /// <summary>The upper clip range in effect: epsilon_high, or epsilon when it is not set (as TRL).</summary>
    [JsonIgnore] public double EffectiveEpsilonHigh => EpsilonHigh ?? Epsilon;

    /// <summary>Completions per step (TRL's generation_batch_size).</summary>
    [JsonIgnore] public int CompletionsPerStep => PromptsPerStep * NumGenerations;

    /// <summary>Throws <see cref="R1Error"/> naming the first option whose value cannot work.</summary>
    public GrpoConfig Validate()
    {
        Require(NumGenerations >= 2, "num_generations", NumGenerations, "must be at least 2 (the advantage compares completions of a group)");
        Require(PromptsPerStep >= 1, "prompts_per_step", PromptsPerStep, "must be at least 1");
        Require(MaxPromptLength >= 1, "max_prompt_length", MaxPromptLength, "must be at least 1");
        Require(MaxCompletionLength >= 1, "max_completion_length", MaxCompletionLength, "must be at least 1");
        Require(Temperature > 0, "temperature", Temperature, "must be above 0");
        Require(TopP is > 0 and <= 1, "top_p", TopP, "must be in (0, 1]");
        Require(TopK >= 0, "top_k", TopK, "must be 0 (off) or more");
        Require(Beta >= 0, "beta", Beta, "must be 0 or more");
        Require(Epsilon is >= 0 and < 1, "epsilon", Epsilon, "must be in [0, 1)");
        Require(EpsilonHigh is null or >= 0, "epsilon_high", EpsilonHigh, "must be 0 or more");
        Require(NumIterations >= 1, "num_iterations", NumIterations, "must be at least 1");
        Require(RewardWeights is null || RewardWeights.All(double.IsFinite), "reward_weights", RewardWeights, "must be finite numbers");
        Require(MaxNumGenBatches >= 1, "max_num_gen_batches", MaxNumGenBatches, "must be at least 1");
        Require(LearningRate > 0, "learning_rate", LearningRate, "must be above 0");
        Require(WarmupSteps >= 0, "warmup_steps", WarmupSteps, "must be 0 or more");
        Require(MinLrRate is >= 0 and <= 1, "min_lr_rate", MinLrRate, "must be in [0, 1]");
        Require(WeightDecay >= 0, "weight_decay", WeightDecay, "must be 0 or more");
        Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", AdamBeta1, "must be in [0, 1)");
        Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", AdamBeta2, "must be in [0, 1)");
        Require(AdamEpsilon > 0, "adam_epsilon", AdamEpsilon, "must be above 0");
        Require(MaxGradNorm >= 0, "max_grad_norm", MaxGradNorm, "must be 0 (off) or more");
        Require(GradientAccumulationSteps >= 1, "gradient_accumulation_steps", GradientAccumulationSteps, "must be at least 1");
        Require(MaxSteps >= 1, "max_steps", MaxSteps, "must be at least 1");
        Require(LoggingSteps >= 1, "logging_steps", LoggingSteps, "must be at least 1");
        Require(SaveSteps >= 0, "save_steps", SaveSteps, "must be 0 or more");
        Require(SaveTotalLimit >= 1, "save_total_limit", SaveTotalLimit, "must be at least 1");
        Require(EvalSteps >= 0, "eval_steps", EvalSteps, "must be 0 or more");
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Json);

    /// <summary>Reads a config.json; unknown keys are an error so a misspelt option is not silently ignored.</summary>
    public static GrpoConfig FromJson(string json, string source)
    {
        try
        {
            var options = new JsonSerializerOptions(SnakeCase.Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };
            return (JsonSerializer.Deserialize<GrpoConfig>(json, options) ?? throw new R1Error($"{source}: empty GRPO config")).Validate();
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: {e.Message}", e);
        }
    }

    static void Require(bool ok, string key, object? value, string rule)
    {
        if (!ok)
            throw new R1Error($"GRPO option {key} = {FormatValue(value)} {rule}");
    }

    static string FormatValue(object? value) => value switch
    {
        IEnumerable<double> list => "[" + string.Join(", ", list) + "]",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value?.ToString() ?? "null",
    };
}
