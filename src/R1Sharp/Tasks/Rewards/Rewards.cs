using System.Text.RegularExpressions;

namespace R1Sharp.Tasks.Rewards;

/// <summary>
/// One named component of the reward, scoring a completion in [0, 1] (1 is best). Combine several with
/// weights in a <see cref="CompositeReward"/>; the training loop sees only the weighted total.
/// </summary>
public interface IRewardFunction
{
    /// <summary>Key of this component in <see cref="RewardBreakdown.Scores"/> ("accuracy", "format", ...).</summary>
    string Name { get; }

    double Score(RewardContext context);
}

/// <summary>Everything a reward function may look at for one completion.</summary>
/// <param name="TemplateOpenedThink">The chat template already wrote "&lt;think&gt;" before the completion began.</param>
/// <param name="CompletionTokens">Generated tokens, when the caller knows them (the length reward needs them).</param>
/// <param name="MaxTokens">The generation budget; reaching it means the completion was cut off.</param>
public sealed record RewardContext(
    IVerifiableTask Task,
    TaskExample Example,
    string Completion,
    bool TemplateOpenedThink = false,
    int? CompletionTokens = null,
    int? MaxTokens = null)
{
    CompletionParts? _parts;

    /// <summary>Reasoning and answer of the completion, parsed once and shared by the reward functions.</summary>
    public CompletionParts Parts => _parts ??= CompletionParts.Parse(Completion, TemplateOpenedThink);
}

/// <summary>Each component's score (by name, in [0, 1]) and the weighted total used as the RL reward.</summary>
public sealed record RewardBreakdown(IReadOnlyDictionary<string, double> Scores, double Total)
{
    public double Accuracy => Scores.GetValueOrDefault(AccuracyReward.Key);
    public double Format => Scores.GetValueOrDefault(FormatReward.Key);
    public double LanguageConsistency => Scores.GetValueOrDefault(LanguageConsistencyReward.Key);
    public double Length => Scores.GetValueOrDefault(LengthReward.Key);
}

/// <summary>
/// Weights of the standard reward components. R1-Zero used accuracy + format; R1 added language consistency.
/// A weight of 0 keeps the component in the breakdown (for logging) without affecting the total.
/// </summary>
public sealed record RewardWeights
{
    /// <summary>The final answer is right. Default 1.</summary>
    public double Accuracy { get; init; } = 1.0;

    /// <summary>Exactly one &lt;think&gt;…&lt;/think&gt; then a non-empty answer. Default 0.2: a nudge, never worth more than a right answer.</summary>
    public double Format { get; init; } = 0.2;

    /// <summary>Share of the reasoning in the prompt's language. Default 0.1 (R1 adds it to stop language mixing; it costs a little accuracy).</summary>
    public double LanguageConsistency { get; init; } = 0.1;

    /// <summary>Soft penalty for running into the token budget (DAPO's overlong shaping). Default 0 (off).</summary>
    public double Length { get; init; } = 0.0;
}

/// <summary>A reward component and its weight in the total.</summary>
public sealed record WeightedReward(IRewardFunction Function, double Weight);

/// <summary>
/// The reward of a completion: a list of named, weighted components, scored one by one, summed by weight.
/// Add your own by appending a <see cref="WeightedReward"/> (see docs/tasks.md).
/// </summary>
public sealed class CompositeReward
{
    public IReadOnlyList<WeightedReward> Parts { get; }

    public CompositeReward(IReadOnlyList<WeightedReward> parts)
    {
        var duplicate = parts.GroupBy(p => p.Function.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new R1Error($"reward component '{duplicate.Key}' appears more than once");
        Parts = parts;
    }

    /// <summary>Accuracy, format, language consistency and length, weighted by <paramref name="weights"/> (defaults if null).</summary>
    public static CompositeReward Standard(RewardWeights? weights = null)
    {
        weights ??= new RewardWeights();
        return new CompositeReward(
        [
            new(new AccuracyReward(), weights.Accuracy),
            new(new FormatReward(), weights.Format),
            new(new LanguageConsistencyReward(), weights.LanguageConsistency),
            new(new LengthReward(), weights.Length),
        ]);
    }

    /// <summary>This reward with the weights replaced in order (TRL's reward_weights list).</summary>
    public CompositeReward Reweighted(IReadOnlyList<double> weights)
    {
        if (weights.Count != Parts.Count)
            throw new R1Error($"reward_weights has {weights.Count} entries but there are {Parts.Count} reward functions ({string.Join(", ", Parts.Select(p => p.Function.Name))})");
        return new(Parts.Zip(weights, (part, weight) => part with { Weight = weight }).ToList());
    }

    /// <summary>This reward with one more component.</summary>
    public CompositeReward With(IRewardFunction function, double weight) => new([.. Parts, new WeightedReward(function, weight)]);

    public RewardBreakdown Score(RewardContext context)
    {
        var scores = new Dictionary<string, double>();
        double total = 0;
        foreach (var (function, weight) in Parts)
        {
            double score = function.Score(context);
            scores[function.Name] = score;
            total += weight * score;
        }
        return new RewardBreakdown(scores, total);
    }
}

/// <summary>1 when the task's grader accepts the completion's final answer, else 0.</summary>
public sealed class AccuracyReward : IRewardFunction
{
    public const string Key = "accuracy";
    public string Name => Key;

    public double Score(RewardContext context) =>
        context.Task.IsCorrect(context.Completion, context.Example.Answer, context.TemplateOpenedThink) ? 1 : 0;
}

/// <summary>
/// 1 when the completion is "&lt;think&gt;reasoning&lt;/think&gt;answer" with exactly one think block, non-empty
/// reasoning and a non-empty answer (only "reasoning&lt;/think&gt;answer" when the template opened the block), else 0.
/// </summary>
public sealed class FormatReward : IRewardFunction
{
    public const string Key = "format";
    public string Name => Key;

    public double Score(RewardContext context) => context.Parts.WellFormed ? 1 : 0;
}

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

/// <summary>
/// DAPO's soft overlong shaping: 1 up to (1 − <paramref name="softBuffer"/>) of the token budget, falling linearly
/// to 0 at the budget, 0 for a completion cut off there. 1 when the context doesn't say the token counts.
/// </summary>
/// <param name="softBuffer">Share of the budget over which the score falls. Default 0.2.</param>
public sealed class LengthReward(double softBuffer = 0.2) : IRewardFunction
{
    public const string Key = "length";
    public string Name => Key;

    public double Score(RewardContext context)
    {
        if (context.CompletionTokens is not { } tokens || context.MaxTokens is not { } max || max <= 0) return 1;
        if (tokens >= max) return 0;
        double bufferTokens = softBuffer * max;
        double start = max - bufferTokens;
        return tokens <= start ? 1 : (max - tokens) / bufferTokens;
    }
}

/// <summary>The writing systems the language-consistency reward tells apart.</summary>
public enum WritingScript { Other, Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, Thai, Hangul, Hiragana, Katakana, Han }

/// <summary>Counts words by writing script: the unit the language-consistency reward measures.</summary>
public static partial class WritingScripts
{
    [GeneratedRegex(@"\\[a-zA-Z]+")] private static partial Regex LatexCommand();

    public static WritingScript Of(char c)
    {
        if (!char.IsLetter(c)) return WritingScript.Other;
        return c switch
        {
            < '\u0250' or (>= '\u1E00' and <= '\u1EFF') => WritingScript.Latin,
            >= '\u0370' and <= '\u03FF' => WritingScript.Greek,
            >= '\u0400' and <= '\u052F' => WritingScript.Cyrillic,
            >= '\u0590' and <= '\u05FF' => WritingScript.Hebrew,
            (>= '\u0600' and <= '\u06FF') or (>= '\u0750' and <= '\u077F') => WritingScript.Arabic,
            >= '\u0900' and <= '\u097F' => WritingScript.Devanagari,
            >= '\u0E00' and <= '\u0E7F' => WritingScript.Thai,
            (>= '\uAC00' and <= '\uD7AF') or (>= '\u1100' and <= '\u11FF') or (>= '\u3130' and <= '\u318F') => WritingScript.Hangul,
            >= '\u3040' and <= '\u309F' => WritingScript.Hiragana,
            >= '\u30A0' and <= '\u30FF' => WritingScript.Katakana,
            (>= '\u4E00' and <= '\u9FFF') or (>= '\u3400' and <= '\u4DBF') or (>= '\uF900' and <= '\uFAFF') => WritingScript.Han,
            _ => WritingScript.Other,
        };
    }

    /// <summary>
    /// Words per script. Scripts written without spaces (Han, kana, Thai) count each letter as a word; others
    /// count runs of letters, ignoring one-letter words (variables like x) and LaTeX commands (\frac).
    /// </summary>
    public static Dictionary<WritingScript, int> CountWords(string text)
    {
        text = LatexCommand().Replace(text, " ");
        var counts = new Dictionary<WritingScript, int>();
        int i = 0;
        while (i < text.Length)
        {
            var script = Of(text[i]);
            if (script == WritingScript.Other) { i++; continue; }
            int end = i + 1;
            if (!IsUnspaced(script))
                while (end < text.Length && Of(text[end]) == script) end++;
            if (IsUnspaced(script) || end - i > 1) counts[script] = counts.GetValueOrDefault(script) + 1;
            i = end;
        }
        return counts;
    }

    static bool IsUnspaced(WritingScript s) => s is WritingScript.Han or WritingScript.Hiragana or WritingScript.Katakana or WritingScript.Thai;

    /// <summary>
    /// The scripts a text in the same language as <paramref name="text"/> may use: its dominant script, with
    /// Japanese kana and Han together, and Korean Hangul with Han. Empty when the text has no words.
    /// </summary>
    public static HashSet<WritingScript> LanguageOf(string text)
    {
        var counts = CountWords(text);
        if (counts.Count == 0) return [];
        var dominant = counts.MaxBy(kv => kv.Value).Key;
        bool hasKana = counts.ContainsKey(WritingScript.Hiragana) || counts.ContainsKey(WritingScript.Katakana);
        if (hasKana && dominant is WritingScript.Han or WritingScript.Hiragana or WritingScript.Katakana)
            return [WritingScript.Han, WritingScript.Hiragana, WritingScript.Katakana];
        if (dominant == WritingScript.Hangul) return [WritingScript.Hangul, WritingScript.Han];
        return [dominant];
    }
}

public static class TaskScoring
{
    /// <summary>Scores a completion of <paramref name="example"/> with the standard reward under <paramref name="weights"/>.</summary>
    public static RewardBreakdown Score(this IVerifiableTask task, TaskExample example, string completion,
        RewardWeights? weights = null, bool templateOpenedThink = false) =>
        CompositeReward.Standard(weights).Score(new RewardContext(task, example, completion, templateOpenedThink));
}
