using System.Diagnostics;

namespace R1Sharp.Inference;

/// <summary>The kinds of work in a forward pass on the CPU kernels.</summary>
enum InferencePhase { Embedding, Norms, QkvProjection, RopeAndCacheWrite, Attention, OutputProjection, GateUpProjection, SwiGlu, DownProjection, LmHead }

/// <summary>
/// Wall time per phase of the CPU-kernel forward passes made while attached to a model, so `r1 bench generate`
/// can show where a decode step's time goes (and how close the projections run to memory bandwidth).
/// </summary>
sealed class InferenceProfile
{
    readonly long[] ticks = new long[Enum.GetValues<InferencePhase>().Length];
    long mark;

    public int Forwards { get; private set; }

    public void Start()
    {
        Forwards++;
        mark = Stopwatch.GetTimestamp();
    }

    /// <summary>Charges the time since the previous lap to <paramref name="phase"/>.</summary>
    public void Lap(InferencePhase phase)
    {
        long now = Stopwatch.GetTimestamp();
        ticks[(int)phase] += now - mark;
        mark = now;
    }

    public TimeSpan this[InferencePhase phase] => Stopwatch.GetElapsedTime(0, ticks[(int)phase]);

    public TimeSpan Total => Stopwatch.GetElapsedTime(0, ticks.Sum());
}
