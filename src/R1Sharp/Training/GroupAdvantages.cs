using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// GRPO's critic-free baseline: each completion's reward compared with the other completions of the same prompt.
/// As TRL's GRPOTrainer: A = r − mean(group), divided by (std + 1e-4) unless scale_rewards is none; std is the
/// unbiased (Bessel) standard deviation of the group, or of the whole batch for scale_rewards = batch.
/// </summary>
public static class GroupAdvantages
{
    /// <summary>Added to the standard deviation so all-equal groups give 0, not 0/0 (TRL's value).</summary>
    public const double StdEpsilon = 1e-4;

    /// <param name="rewards">[numPrompts × G] summed rewards; the G completions of a prompt are contiguous.</param>
    /// <param name="numGenerations">G, the group size.</param>
    /// <returns>[numPrompts × G] advantages, float32, no gradient.</returns>
    public static Tensor ComputeTensor(Tensor rewards, int numGenerations, ScaleRewards scale)
    {
        if (rewards.dim() != 1 || numGenerations < 1 || rewards.shape[0] % numGenerations != 0)
            throw new R1Error($"rewards of shape [{string.Join(", ", rewards.shape)}] cannot be split into groups of num_generations = {numGenerations}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grouped = rewards.to(float32).view(-1, numGenerations);
        var centred = (grouped - grouped.mean([1], keepdim: true)).view(-1);
        var advantages = scale switch
        {
            ScaleRewards.None => centred,
            ScaleRewards.Group => centred / (UnbiasedStd(grouped, dim: 1).repeat_interleave(numGenerations) + StdEpsilon),
            ScaleRewards.Batch => centred / (UnbiasedStd(rewards.to(float32), dim: null) + StdEpsilon),
            _ => throw new ArgumentOutOfRangeException(nameof(scale)),
        };
        return advantages.MoveToOuterDisposeScope();
    }

    /// <summary>Convenience for callers holding rewards as numbers rather than a tensor.</summary>
    public static float[] Compute(IReadOnlyList<double> rewards, int numGenerations, ScaleRewards scale)
    {
        using var tensor = torch.tensor(rewards.Select(r => (float)r).ToArray());
        using var advantages = ComputeTensor(tensor, numGenerations, scale);
        return advantages.data<float>().ToArray();
    }

    // A single value has no spread: std 0 (not NaN) so its advantage is 0.
    static Tensor UnbiasedStd(Tensor values, int? dim)
    {
        long count = dim is { } d ? values.shape[d] : values.numel();
        if (count < 2)
            return dim is null ? zeros(1) : zeros(values.shape[0]);
        return dim is { } axis ? values.std(axis, unbiased: true) : values.std(unbiased: true);
    }
}

/// <summary>
/// DAPO's dynamic sampling: a group whose completions all got the same reward has zero advantage everywhere, so it
/// only dilutes the batch. The trainer drops such groups and samples more prompts until the step is full.
/// </summary>
public static class DynamicSampling
{
    /// <summary>For each group of <paramref name="numGenerations"/> contiguous rewards, whether all are equal.</summary>
    public static bool[] ZeroVarianceGroups(IReadOnlyList<double> rewards, int numGenerations)
    {
        if (numGenerations < 1 || rewards.Count % numGenerations != 0)
            throw new R1Error($"{rewards.Count} rewards cannot be split into groups of num_generations = {numGenerations}");
        var result = new bool[rewards.Count / numGenerations];
        for (int g = 0; g < result.Length; g++)
        {
            var first = rewards[g * numGenerations];
            result[g] = Enumerable.Range(g * numGenerations, numGenerations).All(i => rewards[i] == first);
        }
        return result;
    }

    /// <summary>Indices of the groups worth training on (rewards not all equal), in order.</summary>
    public static int[] InformativeGroups(IReadOnlyList<double> rewards, int numGenerations) =>
        ZeroVarianceGroups(rewards, numGenerations).Select((zero, g) => (zero, g)).Where(x => !x.zero).Select(x => x.g).ToArray();
}
