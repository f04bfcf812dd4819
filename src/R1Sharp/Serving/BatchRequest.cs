using R1Sharp.Generation;

namespace R1Sharp.Serving;

/// <summary>
/// One prompt for <see cref="ContinuousBatcher"/>, continued <see cref="NumSamples"/> times. Sample s draws its
/// tokens from a stream seeded by (<see cref="Seed"/>, s, step), so the same seed gives the same tokens whatever
/// else shares the batch. <see cref="SamplingOptions.StopStrings"/> are not looked at here: the sink ends a sample
/// by returning true from <see cref="ISampleSink.OnToken"/>.
/// </summary>
public sealed record BatchRequest(
    IReadOnlyList<int> PromptIds,
    SamplingOptions Options,
    int NumSamples,
    int Seed,
    IReadOnlySet<int> StopTokenIds,
    ISampleSink Sink,
    CancellationToken Cancellation = default);
