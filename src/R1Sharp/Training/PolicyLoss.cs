using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>The tensors of one micro-batch of completions that the GRPO loss reads; B completions, T token slots.</summary>
public sealed record PolicyLossInputs
{
    /// <summary>[B, T] log π_θ of each completion token under the policy being trained (carries the gradient).</summary>
    public required Tensor LogProbs { get; init; }

    /// <summary>[B, T] log-probs under the policy that sampled the rollout; null means "the same policy"
    /// (num_iterations = 1), so the ratio is exactly 1 and only its gradient matters.</summary>
    public Tensor? OldLogProbs { get; init; }

    /// <summary>[B, T] log-probs under the frozen reference; required when beta ≠ 0.</summary>
    public Tensor? RefLogProbs { get; init; }

    /// <summary>[B] one advantage per completion, broadcast to its tokens.</summary>
    public required Tensor Advantages { get; init; }

    /// <summary>[B, T] 1 for tokens that count (completion tokens, truncated ones removed), 0 for padding.</summary>
    public required Tensor Mask { get; init; }

    /// <summary>[B, T] per-token entropy of the policy, for the entropy metric only; optional.</summary>
    public Tensor? Entropies { get; init; }

    /// <summary>[B, T] truncated importance weights min(π_learner / π_sampler, C) (verl's TIS), constants that scale
    /// each token's policy-gradient term (not the KL); null weighs every token 1.</summary>
    public Tensor? ImportanceWeights { get; init; }
}

/// <summary>The loss to back-propagate and the statistics of the same tensors.</summary>
public sealed record PolicyLossResult(Tensor Loss, PolicyLossStats Stats) : IDisposable
{
    public void Dispose() => Loss.Dispose();
}

/// <summary>
/// The GRPO policy loss as TRL's GRPOTrainer._compute_loss computes it for loss_type grpo, bnpo, dr_grpo and dapo
/// with token-level importance sampling: ratio ρ = exp(log π_θ − log π_old), per-token loss
/// −min(ρ·A, clip(ρ, 1 − ε, 1 + ε_high)·A) + β·KL_k3, then one of four aggregations.
/// </summary>
public static class PolicyLoss
{
    /// <summary>
    /// The k3 estimator of KL(π_θ ‖ π_ref) per token (DeepSeek-R1 eq. 2): exp(ref − logp) − (ref − logp) − 1.
    /// Unbiased and never negative.
    /// </summary>
    public static Tensor K3Kl(Tensor logProbs, Tensor refLogProbs)
    {
        using var scope = NewDisposeScope();
        var delta = refLogProbs - logProbs;
        return (delta.exp() - delta - 1).MoveToOuterDisposeScope();
    }

    /// <summary>[B, T] per-token loss before masking and aggregation.</summary>
    public static Tensor PerTokenLoss(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, double epsilon,
        double epsilonHigh, double beta = 0, Tensor? refLogProbs = null, Tensor? importanceWeights = null)
    {
        using var scope = NewDisposeScope();
        var advantage = advantages.dim() == 1 ? advantages.unsqueeze(1) : advantages;
        var ratio = (logProbs - oldLogProbs).exp();
        var clippedRatio = ratio.clamp(1 - epsilon, 1 + epsilonHigh);
        var loss = -minimum(ratio * advantage, clippedRatio * advantage);
        if (importanceWeights is not null) loss = loss * importanceWeights;
        if (beta != 0)
            loss = loss + beta * K3Kl(logProbs, refLogProbs ?? throw new R1Error("beta is not 0 but no reference log-probs were given"));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Sums masked per-token losses into the micro-batch's share of the step loss.
    /// grpo: mean of each completion's token mean; bnpo: token sum / this micro-batch's active tokens;
    /// dr_grpo: token sum / (B × max_completion_length); these three are divided by the accumulation steps.
    /// dapo: token sum / active tokens of the whole accumulated batch.
    /// </summary>
    /// <param name="activeTokensInBatch">dapo only: mask sum over every micro-batch of the optimizer step;
    /// null when this micro-batch is the whole step.</param>
    public static Tensor Aggregate(Tensor perTokenLoss, Tensor mask, LossType lossType, int maxCompletionLength,
        int accumulationSteps = 1, double? activeTokensInBatch = null)
    {
        using var scope = NewDisposeScope();
        var m = mask.to_type(perTokenLoss.dtype);
        var masked = perTokenLoss * m;
        var loss = lossType switch
        {
            LossType.Grpo => (masked.sum(1) / m.sum(1).clamp_min(1.0)).mean() / accumulationSteps,
            LossType.Bnpo => masked.sum() / m.sum().clamp_min(1.0) / accumulationSteps,
            LossType.DrGrpo => masked.sum() / ((double)perTokenLoss.shape[0] * maxCompletionLength) / accumulationSteps,
            LossType.Dapo => masked.sum() / Math.Max(1.0, activeTokensInBatch ?? m.sum().item<float>()),
            _ => throw new ArgumentOutOfRangeException(nameof(lossType)),
        };
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The loss of one micro-batch under <paramref name="config"/>, and its statistics.</summary>
    public static PolicyLossResult Compute(PolicyLossInputs inputs, GrpoConfig config, int accumulationSteps = 1,
        double? activeTokensInBatch = null)
    {
        CheckShapes(inputs, config);
        using var scope = NewDisposeScope();
        var oldLogProbs = inputs.OldLogProbs ?? inputs.LogProbs.detach();
        var perToken = PerTokenLoss(inputs.LogProbs, oldLogProbs, inputs.Advantages, config.Epsilon,
            config.EffectiveEpsilonHigh, config.Beta, inputs.RefLogProbs, inputs.ImportanceWeights);
        var loss = Aggregate(perToken, inputs.Mask, config.LossType, config.MaxCompletionLength, accumulationSteps,
            activeTokensInBatch);
        var stats = Statistics(inputs, oldLogProbs, config, loss);
        return new PolicyLossResult(loss.MoveToOuterDisposeScope(), stats);
    }

    // TRL counts a token as clipped only where clipping changes the gradient: ratio below 1 − ε with A < 0
    // (low) or above 1 + ε_high with A > 0 (high).
    static PolicyLossStats Statistics(PolicyLossInputs inputs, Tensor oldLogProbs, GrpoConfig config, Tensor loss)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var mask = inputs.Mask.to_type(float32);
        var advantage = inputs.Advantages.unsqueeze(1);
        var ratio = (inputs.LogProbs.detach() - oldLogProbs).exp();
        var low = (ratio < 1 - config.Epsilon).logical_and(advantage < 0).to_type(float32);
        var high = (ratio > 1 + config.EffectiveEpsilonHigh).logical_and(advantage > 0).to_type(float32);
        double MaskedSum(Tensor t) => (t.to_type(float32) * mask).sum().item<float>();
        return new PolicyLossStats
        {
            Tokens = mask.sum().item<float>(),
            Loss = loss.detach().item<float>(),
            LowClipped = MaskedSum(low),
            HighClipped = MaskedSum(high),
            RegionClipped = MaskedSum(low.logical_or(high)),
            KlSum = config.Beta != 0 ? MaskedSum(K3Kl(inputs.LogProbs.detach(), inputs.RefLogProbs!)) : 0,
            EntropySum = inputs.Entropies is { } entropies ? MaskedSum(entropies.detach()) : 0,
            HasKl = config.Beta != 0,
            HasEntropy = inputs.Entropies is not null,
        };
    }

    static void CheckShapes(PolicyLossInputs x, GrpoConfig config)
    {
        var shape = x.LogProbs.shape;
        void Same(Tensor? t, string name)
        {
            if (t is not null && !t.shape.SequenceEqual(shape))
                throw new R1Error($"policy loss: {name} has shape [{string.Join(", ", t.shape)}] but log-probs have [{string.Join(", ", shape)}]");
        }
        if (shape.Length != 2)
            throw new R1Error($"policy loss: log-probs must be [batch, tokens], got [{string.Join(", ", shape)}]");
        Same(x.OldLogProbs, "old log-probs");
        Same(x.RefLogProbs, "reference log-probs");
        Same(x.Mask, "mask");
        Same(x.Entropies, "entropies");
        Same(x.ImportanceWeights, "importance weights");
        if (x.Advantages.dim() != 1 || x.Advantages.shape[0] != shape[0])
            throw new R1Error($"policy loss: advantages must be [{shape[0]}], got [{string.Join(", ", x.Advantages.shape)}]");
        if (config.Beta != 0 && x.RefLogProbs is null)
            throw new R1Error($"policy loss: beta = {config.Beta} needs reference log-probs");
    }
}

/// <summary>
/// Token-weighted sums from the policy loss of one or more micro-batches. Kept as sums (not means) so the
/// micro-batches of a step add up to exactly the step's means, whatever their sizes.
/// </summary>
public readonly record struct PolicyLossStats
{
    /// <summary>Active (masked-in) tokens.</summary>
    public double Tokens { get; init; }
    /// <summary>Sum of the aggregated losses (what was back-propagated).</summary>
    public double Loss { get; init; }
    public double LowClipped { get; init; }
    public double HighClipped { get; init; }
    public double RegionClipped { get; init; }
    public double KlSum { get; init; }
    public double EntropySum { get; init; }
    public bool HasKl { get; init; }
    public bool HasEntropy { get; init; }

    public static PolicyLossStats operator +(PolicyLossStats a, PolicyLossStats b) => new()
    {
        Tokens = a.Tokens + b.Tokens,
        Loss = a.Loss + b.Loss,
        LowClipped = a.LowClipped + b.LowClipped,
        HighClipped = a.HighClipped + b.HighClipped,
        RegionClipped = a.RegionClipped + b.RegionClipped,
        KlSum = a.KlSum + b.KlSum,
        EntropySum = a.EntropySum + b.EntropySum,
        HasKl = a.HasKl || b.HasKl,
        HasEntropy = a.HasEntropy || b.HasEntropy,
    };

    double PerToken(double sum) => sum / Math.Max(1.0, Tokens);

    /// <summary>Means per active token under TRL's metric names (kl and entropy only when they were measured).</summary>
    /// <param name="optimizerSteps">Optimizer steps these sums cover (num_iterations), so policy_loss is per step.</param>
    public Dictionary<string, double> ToMetrics(int optimizerSteps = 1)
    {
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.Loss] = Loss / Math.Max(1, optimizerSteps),
            [MetricNames.ClipRatioLow] = PerToken(LowClipped),
            [MetricNames.ClipRatioHigh] = PerToken(HighClipped),
            [MetricNames.ClipRatioRegion] = PerToken(RegionClipped),
        };
        if (HasKl) metrics[MetricNames.Kl] = PerToken(KlSum);
        if (HasEntropy) metrics[MetricNames.Entropy] = PerToken(EntropySum);
        return metrics;
    }
}

/// <summary>
/// The gap between the policy that sampled a rollout (its log-probs as the sampler reported them: a server's, or the
/// decode loop's) and the learner's own log-probs of the same tokens: per token the ratio ρ = π_learner / π_sampler.
/// Kernels, batch shapes and a server one sync behind make it depart from 1; verl's truncated importance sampling
/// (TIS) weighs each token's loss by min(ρ, C) to correct for it.
/// </summary>
public static class RolloutImportance
{
    /// <summary>
    /// The ratios [B, T] of <paramref name="learnerLogProbs"/> over <paramref name="samplerLogProbs"/> where
    /// <paramref name="mask"/> is 1, their statistics, and with <paramref name="cap"/> the TIS weights min(ρ, C).
    /// </summary>
    public static (Tensor? Weights, RolloutImportanceStats Stats) Compute(Tensor learnerLogProbs, Tensor samplerLogProbs, Tensor mask, double? cap)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var m = mask.to_type(float32);
        var gap = learnerLogProbs.detach() - samplerLogProbs;
        var ratio = gap.exp();
        var masked = ratio * m;
        var absGap = gap.abs() * m;
        var stats = new RolloutImportanceStats
        {
            Tokens = m.sum().item<float>(),
            AbsDiffSum = absGap.sum().item<float>(),
            AbsDiffMax = absGap.max().item<float>(),
            RatioSum = masked.sum().item<float>(),
            RatioMax = masked.max().item<float>(),
            Clipped = cap is double c ? ((ratio > c).to_type(float32) * m).sum().item<float>() : 0,
            HasCap = cap is not null,
        };
        var weights = cap is double limit ? ratio.clamp_max(limit).MoveToOuterDisposeScope() : null;
        return (weights, stats);
    }
}

/// <summary>Sums of <see cref="RolloutImportance"/> over micro-batches; <see cref="ToMetrics"/> gives the step's means.</summary>
public readonly record struct RolloutImportanceStats
{
    public double Tokens { get; init; }
    public double RatioSum { get; init; }
    public double RatioMax { get; init; }
    public double Clipped { get; init; }
    public bool HasCap { get; init; }
    /// <summary>Σ and max of |log π_learner − log π_sampler| over the tokens.</summary>
    public double AbsDiffSum { get; init; }
    public double AbsDiffMax { get; init; }

    public static RolloutImportanceStats operator +(RolloutImportanceStats a, RolloutImportanceStats b) => new()
    {
        Tokens = a.Tokens + b.Tokens, RatioSum = a.RatioSum + b.RatioSum, RatioMax = Math.Max(a.RatioMax, b.RatioMax),
        Clipped = a.Clipped + b.Clipped, HasCap = a.HasCap || b.HasCap,
        AbsDiffSum = a.AbsDiffSum + b.AbsDiffSum, AbsDiffMax = Math.Max(a.AbsDiffMax, b.AbsDiffMax),
    };

    /// <summary>rollout_is/mean and /max of the ratio over the step's tokens, with a cap rollout_is/clipped_ratio (the share
    /// above it), and rollout_logprob_diff/mean and /max of the log-probs' absolute difference.</summary>
    public Dictionary<string, double> ToMetrics()
    {
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.RolloutIsMean] = RatioSum / Math.Max(1.0, Tokens),
            [MetricNames.RolloutIsMax] = RatioMax,
            [MetricNames.RolloutLogProbDiffMean] = AbsDiffSum / Math.Max(1.0, Tokens),
            [MetricNames.RolloutLogProbDiffMax] = AbsDiffMax,
        };
        if (HasCap) metrics[MetricNames.RolloutIsClippedRatio] = Clipped / Math.Max(1.0, Tokens);
        return metrics;
    }
}
