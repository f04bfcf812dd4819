namespace R1Sharp.Evaluation;

/// <summary>cons@k's vote: the most common answer among samples; ties go to the answer that appeared first.</summary>
public static class MajorityVote
{
    /// <summary>Index of the first sample holding the winning answer, or null if no sample has an answer.</summary>
    public static int? Winner(IReadOnlyList<string?> answers)
    {
        var counts = new Dictionary<string, int>();
        var firstIndex = new Dictionary<string, int>();
        for (int i = 0; i < answers.Count; i++)
        {
            if (answers[i] is not { } answer) continue;
            counts[answer] = counts.GetValueOrDefault(answer) + 1;
            firstIndex.TryAdd(answer, i);
        }
        if (counts.Count == 0) return null;
        return counts.OrderByDescending(kv => kv.Value).ThenBy(kv => firstIndex[kv.Key]).Select(kv => firstIndex[kv.Key]).First();
    }
}
