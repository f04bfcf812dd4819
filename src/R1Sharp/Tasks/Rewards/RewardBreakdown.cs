namespace R1Sharp.Tasks.Rewards;

/// <summary>Each component's score (by name, in [0, 1]) and the weighted total used as the RL reward.</summary>
public sealed record RewardBreakdown(IReadOnlyDictionary<string, double> Scores, double Total)
{
    public double Accuracy => Scores.GetValueOrDefault(AccuracyReward.Key);
    public double Format => Scores.GetValueOrDefault(FormatReward.Key);
    public double LanguageConsistency => Scores.GetValueOrDefault(LanguageConsistencyReward.Key);
    public double Length => Scores.GetValueOrDefault(LengthReward.Key);
}
