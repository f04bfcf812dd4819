namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// R1's language-consistency reward: the share of the reasoning's words written in the prompt's language
/// (told apart by Unicode script, see <see cref="WritingScripts"/>). 1 when the prompt or the reasoning has no words.
/// </summary>
public sealed class LanguageConsistencyReward : IRewardFunction
{
    public const string Key = "language";
    public string Name => Key;

    public double Score(RewardContext context) => Share(context.Example.UserText, context.Parts.Reasoning);

    /// <summary>Share of <paramref name="reasoning"/>'s words in the language of <paramref name="prompt"/>.</summary>
    public static double Share(string prompt, string reasoning)
    {
        var language = WritingScripts.LanguageOf(prompt);
        if (language.Count == 0) return 1;
        var counts = WritingScripts.CountWords(reasoning);
        int total = counts.Values.Sum();
        if (total == 0) return 1;
        return (double)counts.Where(kv => language.Contains(kv.Key)).Sum(kv => kv.Value) / total;
    }
}
