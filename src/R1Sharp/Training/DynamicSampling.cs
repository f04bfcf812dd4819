namespace R1Sharp.Training;

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
