using System.Text.Json;
using System.Text.Json.Serialization;

namespace R1Sharp.Training;

/// <summary>
/// Options of a GRPO run. Names and defaults follow TRL's <c>GRPOConfig</c> and the <see cref="TrainingArguments"/> it
/// inherits, so a user can move a recipe between TRL and R1Sharp; the keys of <c>config.json</c> are TRL's
/// snake_case names of these properties. Options TRL does not have (<c>prompts_per_step</c>, <c>dynamic_sampling</c>,
/// ...) say so.
/// </summary>
public sealed record GrpoConfig : TrainingArguments
{
    // --- Sampling ---

    /// <summary>G, completions sampled per prompt; the group the advantage is centred on. TRL default 8.</summary>
    public int NumGenerations { get; init; } = 8;

    /// <summary>Prompts per optimizer step (not a TRL key: TRL's <c>generation_batch_size</c> = this × G). Default 16.</summary>
    public int PromptsPerStep { get; init; } = 16;

    /// <summary>Prompt tokens kept (from the left) before generation. Older TRL's key; default 512.</summary>
    public int MaxPromptLength { get; init; } = 512;

    /// <summary>Most tokens generated per completion; a completion that reaches it is truncated. TRL default 512.</summary>
    public int MaxCompletionLength { get; init; } = 512;

    /// <summary>Rollout sampling temperature. TRL default 1.0.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Rollout nucleus sampling; 1.0 keeps every token. TRL default 1.0.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Rollout top-k; 0 disables it. TRL default 0.</summary>
    public int TopK { get; init; }

    // --- Algorithm ---

    /// <summary>Weight of the k3 KL to the frozen reference; 0 (TRL's default) skips the reference model. R1 used 0.001.</summary>
    public double Beta { get; init; }

    /// <summary>Lower clip range: the ratio is clipped below at 1 − epsilon. TRL default 0.2.</summary>
    public double Epsilon { get; init; } = 0.2;

    /// <summary>Upper clip range (clip-higher, DAPO uses 0.28); null means the same as <see cref="Epsilon"/>.</summary>
    public double? EpsilonHigh { get; init; }

    /// <summary>μ, optimizer updates per rollout batch; above 1 the ratio to the old policy departs from 1. TRL default 1.</summary>
    public int NumIterations { get; init; } = 1;

    /// <summary>How token losses are aggregated; TRL's default is dapo.</summary>
    public LossType LossType { get; init; } = LossType.Dapo;

    /// <summary>What centred rewards are divided by; TRL default group.</summary>
    public ScaleRewards ScaleRewards { get; init; } = ScaleRewards.Group;

    /// <summary>Leave completions that hit max_completion_length out of the loss (DAPO's overlong filtering). TRL default false.</summary>
    public bool MaskTruncatedCompletions { get; init; }

    /// <summary>Weight of each reward function, in order; null weighs each 1. TRL key.</summary>
    public IReadOnlyList<double>? RewardWeights { get; init; }

    /// <summary>DAPO dynamic sampling: drop groups whose rewards are all equal and sample more prompts until the
    /// step is full. Not in TRL (verl calls it <c>filter_groups</c>). Default false.</summary>
    public bool DynamicSampling { get; init; }

    /// <summary>With dynamic sampling, most generation rounds per step before training on what was kept (verl's
    /// name). Default 10.</summary>
    public int MaxNumGenBatches { get; init; } = 10;

    // --- Rollouts on servers (docs/scale-out.md; not TRL keys) ---

    /// <summary>OpenAI-compatible servers (`r1 serve --allow-weight-updates`, vLLM, SGLang) that generate the rollouts,
    /// as API base URLs (http://host:8080/v1); null or empty generates in process. Default none.</summary>
    public IReadOnlyList<string>? RolloutEndpoints { get; init; }

    /// <summary>The "model" field of rollout requests; null asks each server's GET /v1/models. Not with lora_r (requests
    /// then name each step's adapter). Default none.</summary>
    public string? RolloutModel { get; init; }

    /// <summary>Environment variable holding the servers' API key; null sends none. Default none.</summary>
    public string? RolloutApiKeyEnv { get; init; }

    /// <summary>Directory the learner writes each step's weights to, which every server must be able to read (a shared
    /// file system across machines); null: rollout_weights in the run folder. Default none.</summary>
    public string? RolloutWeightsDir { get; init; }

    /// <summary>Seconds one rollout request may take before its server is taken out and the request re-sent. Default 600.</summary>
    public double RolloutRequestTimeout { get; init; } = 600;

    /// <summary>Truncated importance sampling (verl's TIS, its C): each token's loss is weighted by
    /// min(π_learner / π_sampler, C) for the gap between the log-probs the sampler reported and the learner's; null: no
    /// correction (the ratio is still logged). Default none; verl suggests 2.</summary>
    public double? RolloutIsCap { get; init; }

    /// <summary>The weights in-process rollouts (and the held-out eval) are generated with (not a TRL key): fp32, bf16
    /// (bfloat16 copies of the policy's projections, retaken after every optimizer step: half the bytes per decoded
    /// token) or auto (bf16 only on a CPU with native bf16 where it measures clearly faster; see docs/inference.md).
    /// The learner recomputes the log-probs with its fp32 master weights either way; rollout_logprob_diff/mean and /max
    /// log the gap. Rollout servers use their own `r1 serve --precision`. Default fp32.</summary>
    public Precision RolloutPrecision { get; init; } = Precision.Fp32;

    /// <summary>The upper clip range in effect: epsilon_high, or epsilon when it is not set (as TRL).</summary>
    [JsonIgnore] public double EffectiveEpsilonHigh => EpsilonHigh ?? Epsilon;

    /// <summary>Completions per step (TRL's generation_batch_size).</summary>
    [JsonIgnore] public int CompletionsPerStep => PromptsPerStep * NumGenerations;

    /// <summary>The learner's micro-batch: its share of the step's completions, each up to prompt + completion tokens.</summary>
    [JsonIgnore] public override long RowsPerMicroBatch =>
        (long)Math.Ceiling(CompletionsPerStep / (double)GradientAccumulationSteps) * (MaxPromptLength + MaxCompletionLength);

    /// <summary>Throws <see cref="R1Error"/> naming the first option whose value cannot work.</summary>
    public GrpoConfig Validate()
    {
        ConfigJson.Require(NumGenerations >= 2, "num_generations", NumGenerations, "must be at least 2 (the advantage compares completions of a group)");
        ConfigJson.Require(PromptsPerStep >= 1, "prompts_per_step", PromptsPerStep, "must be at least 1");
        ConfigJson.Require(MaxPromptLength >= 1, "max_prompt_length", MaxPromptLength, "must be at least 1");
        ConfigJson.Require(MaxCompletionLength >= 1, "max_completion_length", MaxCompletionLength, "must be at least 1");
        ConfigJson.Require(Temperature > 0, "temperature", Temperature, "must be above 0");
        ConfigJson.Require(TopP is > 0 and <= 1, "top_p", TopP, "must be in (0, 1]");
        ConfigJson.Require(TopK >= 0, "top_k", TopK, "must be 0 (off) or more");
        ConfigJson.Require(Beta >= 0, "beta", Beta, "must be 0 or more");
        ConfigJson.Require(Epsilon is >= 0 and < 1, "epsilon", Epsilon, "must be in [0, 1)");
        ConfigJson.Require(EpsilonHigh is null or >= 0, "epsilon_high", EpsilonHigh, "must be 0 or more");
        ConfigJson.Require(NumIterations >= 1, "num_iterations", NumIterations, "must be at least 1");
        ConfigJson.Require(RewardWeights is null || RewardWeights.All(double.IsFinite), "reward_weights", RewardWeights, "must be finite numbers");
        ConfigJson.Require(MaxNumGenBatches >= 1, "max_num_gen_batches", MaxNumGenBatches, "must be at least 1");
        ConfigJson.Require(RolloutEndpoints is null || RolloutEndpoints.All(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"),
            "rollout_endpoints", RolloutEndpoints is null ? null : string.Join(",", RolloutEndpoints), "must be http(s) URLs like http://127.0.0.1:8080/v1");
        ConfigJson.Require(RolloutModel is null || LoraR == 0, "rollout_model", RolloutModel,
            "is not used with lora_r: rollout requests name each step's adapter (r1-grpo-step-N, docs/scale-out.md); drop rollout_model");
        ConfigJson.Require(RolloutRequestTimeout > 0, "rollout_request_timeout", RolloutRequestTimeout, "must be above 0 seconds");
        ConfigJson.Require(RolloutIsCap is null or >= 1, "rollout_is_cap", RolloutIsCap, "must be at least 1 (verl's TIS caps the ratio at C, typically 2)");
        ValidateTrainingArguments();
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Json);

    /// <summary>Reads a config.json over the defaults; an unknown key is an error naming the file and the key.</summary>
    public static GrpoConfig FromJson(string json, string source) => ConfigJson.Read(json, source, new GrpoConfig()).Validate();
}

/// <summary>
/// How per-token policy losses are summed into one number (TRL's <c>loss_type</c>). Serialised snake_case:
/// grpo, bnpo, dr_grpo, dapo.
/// </summary>
public enum LossType
{
    /// <summary>Mean over each completion's tokens, then mean over completions (DeepSeekMath). Length-biased.</summary>
    Grpo,
    /// <summary>Sum over the tokens of the micro-batch divided by its number of active tokens.</summary>
    Bnpo,
    /// <summary>Sum over tokens divided by a constant, batch size × max_completion_length (Dr. GRPO).</summary>
    DrGrpo,
    /// <summary>Sum over tokens divided by the active tokens of the whole accumulated batch (DAPO; TRL's default).</summary>
    Dapo,
}

/// <summary>What the group-centred reward is divided by to make the advantage (TRL's <c>scale_rewards</c>).</summary>
public enum ScaleRewards
{
    /// <summary>The standard deviation of the rewards of the same prompt's group (GRPO).</summary>
    Group,
    /// <summary>The standard deviation over the whole batch (Lite PPO).</summary>
    Batch,
    /// <summary>No scaling, A = r − group mean (Dr. GRPO).</summary>
    None,
}
