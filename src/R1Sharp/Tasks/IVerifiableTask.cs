namespace R1Sharp.Tasks;

/// <summary>
/// A source of problems whose answers a program can check: synthetic tasks (arithmetic, Countdown, ...)
/// and dataset files (GSM8K, MATH, generic). Rewards (<see cref="Rewards.CompositeReward"/>) and evaluation
/// (<see cref="Evaluation.Evaluator"/>) are built on these three operations.
/// </summary>
public interface IVerifiableTask
{
    string Name { get; }

    /// <summary>The examples of a split, in a fixed order for a given seed. Synthetic tasks yield a long stream (take what you need).</summary>
    IEnumerable<TaskExample> Examples(TaskSplit split, int seed);

    /// <summary>Whether the completion's final answer is right for the example's reference answer.</summary>
    /// <param name="templateOpenedThink">The chat template already opened &lt;think&gt; (see <see cref="CompletionParts.Parse"/>).</param>
    bool IsCorrect(string completion, string reference, bool templateOpenedThink = false);

    /// <summary>
    /// The completion's final answer in a canonical form, equal for answers that grade the same; null when there is
    /// none. Majority voting (cons@k) counts these.
    /// </summary>
    string? VoteKey(string completion, bool templateOpenedThink = false);
}
