using R1Sharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

public class PolicyLossTests
{
    static readonly IEqualityComparer<double> Close = GroupAdvantagesTests.Close(1e-5);

    static Tensor Matrix(float[,] values) => torch.tensor(values);
    static double[] Values(Tensor t) => t.data<float>().ToArray().Select(v => (double)v).ToArray();

    [Fact]
    public void K3KlMatchesTheFormulaAndIsZeroForEqualPolicies()
    {
        // ref/π = 0.5: 0.5 − ln 0.5 − 1 = 0.193147; ref/π = 2: 2 − ln 2 − 1 = 0.306853.
        using var logp = torch.tensor(new[] { MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.3f) });
        using var refLogp = torch.tensor(new[] { MathF.Log(0.25f), MathF.Log(0.5f), MathF.Log(0.3f) });
        using var kl = PolicyLoss.K3Kl(logp, refLogp);
        Assert.Equal([0.193147, 0.306853, 0], Values(kl), Close);
    }

    [Fact]
    public void ClippedSurrogateUsesClipHigherOnTheUpperSide()
    {
        // ratios 0.5, 0.9, 1.1, 1.5 against ε = 0.2, ε_high = 0.28 → clip range [0.8, 1.28].
        float[] ratios = [0.5f, 0.9f, 1.1f, 1.5f];
        using var logp = torch.tensor(ratios.Select(r => MathF.Log(r)).Concat(ratios.Select(r => MathF.Log(r))).ToArray()).view(2, 4);
        using var old = zeros(2, 4);
        using var advantages = torch.tensor(new[] { 2f, -1f });
        using var loss = PolicyLoss.PerTokenLoss(logp, old, advantages, epsilon: 0.2, epsilonHigh: 0.28);
        // A = +2: −min(ρA, clip(ρ)A) = −[1, 1.8, 2.2, min(3, 2.56)].
        // A = −1: −min(−ρ, −clip(ρ)) = [max(0.5, 0.8), 0.9, 1.1, max(1.5, 1.28)].
        Assert.Equal([-1, -1.8, -2.2, -2.56, 0.8, 0.9, 1.1, 1.5], Values(loss), Close);
    }

    [Fact]
    public void EachLossTypeAggregatesAsTrl()
    {
        using var perToken = Matrix(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        using var mask = Matrix(new float[,] { { 1, 1, 0 }, { 1, 0, 0 } });
        double Loss(LossType type, int accumulation = 1, double? tokens = null)
        {
            using var loss = PolicyLoss.Aggregate(perToken, mask, type, maxCompletionLength: 4, accumulation, tokens);
            return loss.item<float>();
        }
        Assert.Equal((1.5 + 4) / 2, Loss(LossType.Grpo), Close);          // mean of per-sequence means
        Assert.Equal(7.0 / 3, Loss(LossType.Bnpo), Close);                // local token mean
        Assert.Equal(7.0 / (2 * 4), Loss(LossType.DrGrpo), Close);        // B × max_completion_length
        Assert.Equal(7.0 / 3, Loss(LossType.Dapo), Close);                // whole batch = this micro-batch
        Assert.Equal(7.0 / 10, Loss(LossType.Dapo, 2, tokens: 10), Close); // global token count, no accumulation divide
        Assert.Equal(2.75 / 2, Loss(LossType.Grpo, accumulation: 2), Close);
        Assert.Equal(7.0 / 6, Loss(LossType.Bnpo, accumulation: 2), Close);
        Assert.Equal(7.0 / 16, Loss(LossType.DrGrpo, accumulation: 2), Close);
    }

    [Fact]
    public void ComputeAddsBetaTimesKlAndReportsTokenMeans()
    {
        using var logp = torch.tensor(new[] { MathF.Log(0.5f), MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.5f) }).view(2, 2);
        using var refLogp = torch.tensor(new[] { MathF.Log(0.25f), MathF.Log(0.5f), MathF.Log(0.5f), MathF.Log(0.5f) }).view(2, 2);
        using var advantages = torch.tensor(new[] { 1f, -1f });
        using var mask = Matrix(new float[,] { { 1, 1 }, { 1, 0 } });
        using var entropies = Matrix(new float[,] { { 1, 2 }, { 3, 4 } });
        var config = new GrpoConfig { Beta = 0.1, LossType = LossType.Dapo };
        using var result = PolicyLoss.Compute(new PolicyLossInputs
        {
            LogProbs = logp, RefLogProbs = refLogp, Advantages = advantages, Mask = mask, Entropies = entropies,
        }, config);
        // On-policy ratio 1: per token −A + 0.1·kl, kl = [[0.193147, 0], [0.306853, 0]]; masked sum −0.95 over 3 tokens.
        Assert.Equal(-0.95 / 3, result.Loss.item<float>(), Close);
        var metrics = result.Stats.ToMetrics();
        Assert.Equal(0.5 / 3, metrics[MetricNames.Kl], Close);
        Assert.Equal(6.0 / 3, metrics[MetricNames.Entropy], Close);
        Assert.Equal(0, metrics[MetricNames.ClipRatioRegion]);
        Assert.Equal(3, result.Stats.Tokens);
    }

    [Fact]
    public void ClipFractionsCountOnlyTokensWhereClippingStopsTheGradient()
    {
        float[] ratios = [0.5f, 0.9f, 1.1f, 1.5f];
        using var old = zeros(2, 4);
        using var logp = torch.tensor(ratios.Select(r => MathF.Log(r)).Concat(ratios.Select(r => MathF.Log(r))).ToArray()).view(2, 4);
        using var advantages = torch.tensor(new[] { 2f, -1f });
        using var mask = ones(2, 4);
        var config = new GrpoConfig { Epsilon = 0.2, EpsilonHigh = 0.28 };
        using var result = PolicyLoss.Compute(new PolicyLossInputs
        {
            LogProbs = logp, OldLogProbs = old, Advantages = advantages, Mask = mask,
        }, config);
        var metrics = result.Stats.ToMetrics();
        // High: ρ = 1.5 with A > 0 (1 of 8). Low: ρ = 0.5 with A < 0 (1 of 8). ρ = 0.5 with A > 0 is not clipped.
        Assert.Equal(1.0 / 8, metrics[MetricNames.ClipRatioHigh], Close);
        Assert.Equal(1.0 / 8, metrics[MetricNames.ClipRatioLow], Close);
        Assert.Equal(2.0 / 8, metrics[MetricNames.ClipRatioRegion], Close);
        Assert.False(metrics.ContainsKey(MetricNames.Kl));
    }

    [Fact]
    public void GradientVanishesOnClippedTokensOnly()
    {
        float[] ratios = [0.5f, 0.9f, 1.1f, 1.5f];
        using var logp = torch.tensor(ratios.Select(r => MathF.Log(r)).ToArray()).view(1, 4).requires_grad_();
        using var old = zeros(1, 4);
        using var advantages = torch.tensor(new[] { 2f });
        using var mask = ones(1, 4);
        using var result = PolicyLoss.Compute(new PolicyLossInputs
        {
            LogProbs = logp, OldLogProbs = old, Advantages = advantages, Mask = mask,
        }, new GrpoConfig { EpsilonHigh = 0.28 });
        result.Loss.backward();
        // d/dlogp of −ρA/4 is −ρA/4 where ρA is the smaller term; 0 where the clipped constant wins.
        Assert.Equal([-0.25, -0.45, -0.55, 0], Values(logp.grad!), Close);
    }

    [Fact]
    public void ADescentStepRaisesRewardedTokensAndLowersPunishedOnes()
    {
        // A free logits table stands in for a model: one step of plain gradient descent on the GRPO loss.
        using var logits = zeros(2, 3, 5).requires_grad_();
        using var tokens = torch.tensor(new long[] { 1, 2, 3, 4, 0, 1 }).view(2, 3);
        using var advantages = torch.tensor(new[] { 1f, -1f });
        using var mask = ones(2, 3);
        Tensor LogProbs() => logits.log_softmax(-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
        float[] Before()
        {
            using var _ = no_grad();
            using var lp = LogProbs();
            return lp.data<float>().ToArray();
        }
        var before = Before();
        using (var logp = LogProbs())
        using (var result = PolicyLoss.Compute(new PolicyLossInputs { LogProbs = logp, Advantages = advantages, Mask = mask }, new GrpoConfig()))
            result.Loss.backward();
        using (no_grad())
            logits.sub_(logits.grad! * 1.0);
        var after = Before();
        for (int t = 0; t < 3; t++)
        {
            Assert.True(after[t] > before[t], $"rewarded token {t}: {before[t]} → {after[t]}");
            Assert.True(after[3 + t] < before[3 + t], $"punished token {t}: {before[3 + t]} → {after[3 + t]}");
        }
    }

    [Fact]
    public void BetaWithoutReferenceLogProbsIsAnError()
    {
        using var logp = zeros(1, 2);
        using var advantages = zeros(1);
        using var mask = ones(1, 2);
        var e = Assert.Throws<R1Error>(() => PolicyLoss.Compute(new PolicyLossInputs { LogProbs = logp, Advantages = advantages, Mask = mask }, new GrpoConfig { Beta = 0.04 }));
        Assert.Contains("reference", e.Message);
    }

    [Fact]
    public void StatsOfMicroBatchesAddUpToTheStepsMeans()
    {
        var a = new PolicyLossStats { Tokens = 2, KlSum = 1, HasKl = true, Loss = 0.5 };
        var b = new PolicyLossStats { Tokens = 6, KlSum = 1, HasKl = true, Loss = 0.25 };
        var metrics = (a + b).ToMetrics();
        Assert.Equal(0.25, metrics[MetricNames.Kl], Close);
        Assert.Equal(0.75, metrics[MetricNames.Loss], Close);
    }

    [Fact]
    public void Rollout_importance_ratios_are_measured_on_masked_tokens_and_truncated_at_the_cap_as_verls_tis()
    {
        // Learner over sampler: ratios 0.5, 1, 3 (and a padding slot of ratio 10 that must not count).
        using var learner = torch.tensor(new[] { MathF.Log(0.1f), MathF.Log(0.2f), MathF.Log(0.3f), MathF.Log(1f) }).view(1, 4);
        using var sampler = torch.tensor(new[] { MathF.Log(0.2f), MathF.Log(0.2f), MathF.Log(0.1f), MathF.Log(0.1f) }).view(1, 4);
        using var mask = torch.tensor(new[] { 1f, 1f, 1f, 0f }).view(1, 4);
        var (weights, stats) = RolloutImportance.Compute(learner, sampler, mask, cap: 2);
        Assert.Equal([0.5, 1, 2, 2], Values(weights!), Close);
        var metrics = stats.ToMetrics();
        Assert.Equal(1.5, metrics[MetricNames.RolloutIsMean], Close);
        Assert.Equal(3, metrics[MetricNames.RolloutIsMax], Close);
        Assert.Equal(1.0 / 3, metrics[MetricNames.RolloutIsClippedRatio], Close);
        // |log π_learner − log π_sampler| per token: ln 2, 0, ln 3 (the padding slot's ln 10 left out).
        Assert.Equal((Math.Log(2) + Math.Log(3)) / 3, metrics[MetricNames.RolloutLogProbDiffMean], 1e-5);
        Assert.Equal(Math.Log(3), metrics[MetricNames.RolloutLogProbDiffMax], 1e-5);
        var (none, measured) = RolloutImportance.Compute(learner, sampler, mask, cap: null);
        Assert.Null(none);
        Assert.DoesNotContain(MetricNames.RolloutIsClippedRatio, measured.ToMetrics().Keys);

        // The weights scale each token's policy-gradient term, not the KL.
        using var old = learner.detach();
        using var advantages = torch.tensor(new[] { 1f });
        using var plain = PolicyLoss.PerTokenLoss(learner, old, advantages, 0.2, 0.2);
        using var weighted = PolicyLoss.PerTokenLoss(learner, old, advantages, 0.2, 0.2, importanceWeights: weights);
        Assert.Equal(Values(plain).Zip(Values(weights!), (l, w) => l * w), Values(weighted), Close);
        using var withKl = PolicyLoss.PerTokenLoss(learner, old, advantages, 0.2, 0.2, beta: 0.5, refLogProbs: sampler, importanceWeights: weights);
        using var kl = PolicyLoss.K3Kl(learner, sampler);
        Assert.Equal(Values(weighted).Zip(Values(kl), (l, k) => l + 0.5 * k), Values(withKl), Close);
    }
}
