using System.Diagnostics;

namespace R1Sharp.Tasks.Answers;

/// <summary>
/// A time budget for one comparison, so an adversarial answer (a tower of powers, a giant expression) costs
/// a bounded amount of time and simply grades as wrong.
/// </summary>
public sealed class Deadline(TimeSpan limit)
{
    readonly long _start = Stopwatch.GetTimestamp();

    public void Check()
    {
        if (Stopwatch.GetElapsedTime(_start) > limit) throw new TimeoutException("answer comparison ran out of time");
    }
}
