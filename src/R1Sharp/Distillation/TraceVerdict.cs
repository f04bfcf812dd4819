using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;

namespace R1Sharp.Distillation;

/// <summary>
/// What rejection sampling checks of one completion. Only an accepted one becomes training data: a right answer in
/// a malformed trace, or a trace cut off at the token limit (SFT would teach it to end there), is rejected.
/// </summary>
/// <param name="Correct">The task's checker accepts the final answer (the accuracy reward is 1).</param>
/// <param name="WellFormed">One think block with reasoning and an answer after it (the format reward is 1).</param>
/// <param name="Finished">The completion ended with end-of-sequence, not at the token limit.</param>
public sealed record TraceVerdict(bool Correct, bool WellFormed, bool Finished)
{
    public bool Accepted => Correct && WellFormed && Finished;

    static readonly FormatReward Format = new();

    /// <param name="completion">The generated text without its end-of-sequence token.</param>
    /// <param name="templateOpenedThink">The chat template wrote "&lt;think&gt;" before the completion.</param>
    public static TraceVerdict Judge(IVerifiableTask task, TaskExample example, string completion, bool finished, bool templateOpenedThink) =>
        new(task.IsCorrect(completion, example.Answer, templateOpenedThink),
            Format.Score(new RewardContext(task, example, completion, templateOpenedThink)) == 1,
            finished);
}
