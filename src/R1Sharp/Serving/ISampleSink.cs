using R1Sharp.Generation;

namespace R1Sharp.Serving;

/// <summary>
/// Where <see cref="ContinuousBatcher"/> reports a request's samples as they are generated. The calls come from the
/// decode thread, between decoding steps that every request shares, so they must be quick.
/// </summary>
public interface ISampleSink
{
    /// <summary>Sample <paramref name="sample"/> produced a token (stop tokens included); true ends the sample here
    /// (for instance when a stop string appeared in its text).</summary>
    bool OnToken(int sample, int tokenId);

    /// <summary>The sample is done; no more tokens of it follow.</summary>
    void OnFinished(int sample, FinishReason reason);

    /// <summary>The request cannot go on (a failure in the decode loop, or the batcher shutting down); no calls follow.</summary>
    void OnFailed(Exception error);
}
