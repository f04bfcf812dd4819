namespace R1Sharp.Training;

/// <summary>
/// Keys of the per-step metrics in metrics.jsonl. Where TRL's GRPOTrainer (or the Hugging Face Trainer) logs the
/// same quantity, the key is TRL's, so dashboards and habits carry over.
/// </summary>
public static class MetricNames
{
    public const string Step = "step";

    // Rewards (TRL)
    /// <summary>Mean of the weighted reward sum over the step's completions.</summary>
    public const string Reward = "reward";
    /// <summary>Unbiased standard deviation of the weighted reward sum over the step's completions.</summary>
    public const string RewardStd = "reward_std";
    /// <summary>Share of groups whose rewards are all equal (no learning signal).</summary>
    public const string FracRewardZeroStd = "frac_reward_zero_std";
    public static string RewardMean(string function) => $"rewards/{function}/mean";
    public static string RewardStdOf(string function) => $"rewards/{function}/std";

    /// <summary>Share of the step's completions the task's checker judged correct (R1Sharp).</summary>
    public const string Accuracy = "accuracy";

    // Completions (TRL)
    public const string MeanLength = "completions/mean_length";
    public const string MinLength = "completions/min_length";
    public const string MaxLength = "completions/max_length";
    /// <summary>Share of completions cut at max_completion_length (TRL calls truncation "clipped").</summary>
    public const string TruncatedRatio = "completions/clipped_ratio";
    public const string MeanTerminatedLength = "completions/mean_terminated_length";
    /// <summary>Generation rounds of the step: 1, or more when dynamic sampling drew more prompts (R1Sharp).</summary>
    public const string GenerationRounds = "generation_rounds";

    // Loss: the policy loss for GRPO (TRL), next-token cross-entropy for pretraining and SFT (Hugging Face Trainer)
    public const string Loss = "loss";
    public const string Kl = "kl";
    public const string Entropy = "entropy";
    public const string ClipRatioLow = "clip_ratio/low_mean";
    public const string ClipRatioHigh = "clip_ratio/high_mean";
    public const string ClipRatioRegion = "clip_ratio/region_mean";

    // Held-out evaluation
    /// <summary>Next-token loss on held-out data (pretraining, SFT, distillation; Hugging Face Trainer).</summary>
    public const string EvalLoss = "eval_loss";
    /// <summary>Greedy accuracy on held-out prompts (GRPO's periodic evaluation, R1Sharp).</summary>
    public const string EvalAccuracy = "eval/accuracy";

    // Optimisation and speed (Hugging Face Trainer, TRL)
    public const string GradNorm = "grad_norm";
    public const string LearningRate = "learning_rate";
    public const string StepTime = "step_time";
    /// <summary>Input tokens trained on so far (pretraining, SFT).</summary>
    public const string TokensSeen = "tokens_seen";
    /// <summary>Generated tokens per second of wall-clock spent sampling (R1Sharp).</summary>
    public const string RolloutTokensPerSecond = "rollout_tokens_per_second";
    /// <summary>Tokens through forward + backward + optimizer per second of training wall-clock (R1Sharp).</summary>
    public const string TrainTokensPerSecond = "train_tokens_per_second";

    // Rollouts on servers and their off-policy gap (R1Sharp; verl logs the same under rollout_is)
    /// <summary>Mean over the step's tokens of π_learner / π_sampler (1 when sampler and learner agree).</summary>
    public const string RolloutIsMean = "rollout_is/mean";
    public const string RolloutIsMax = "rollout_is/max";
    /// <summary>With rollout_is_cap: share of tokens whose ratio was above the cap (their weight clipped to it).</summary>
    public const string RolloutIsClippedRatio = "rollout_is/clipped_ratio";
    /// <summary>Mean and max over the step's tokens of |log π_learner − log π_sampler|: how far the rollouts' log-probs
    /// (bf16 weights with rollout_precision bf16, a server's kernels) are from the learner's recomputed ones.</summary>
    public const string RolloutLogProbDiffMean = "rollout_logprob_diff/mean";
    public const string RolloutLogProbDiffMax = "rollout_logprob_diff/max";
    /// <summary>Seconds spent writing the weights and having every rollout server load them.</summary>
    public const string WeightSyncSeconds = "rollout/weight_sync_seconds";
    /// <summary>Rollout servers in the fleet after the step; per server i, requests sent and failures this step.</summary>
    public const string ReplicasLive = "rollout/replicas_live";
    public static string ReplicaRequests(int replica) => $"rollout/replica{replica}/requests";
    public static string ReplicaErrors(int replica) => $"rollout/replica{replica}/errors";

    /// <summary>The metrics that sum up a run, with short labels, in the order shown (r1 runs, stage summaries).</summary>
    public static readonly IReadOnlyList<(string Key, string Label)> Headline =
    [
        (Accuracy, "acc"), (Reward, "reward"), (Loss, "loss"), (EvalLoss, "eval loss"), (EvalAccuracy, "eval acc"), (MeanLength, "len"),
    ];
}
