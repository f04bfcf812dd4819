using R1Sharp.Generation;

namespace R1Sharp.Serving;

/// <summary>
/// A running completion of a prompt given as token ids (POST /v1/completions): each choice's token ids and their
/// log-probabilities, exactly as the decode loop sampled them, for a caller (an RL learner) that trains on them.
/// </summary>
public sealed class TokenCompletionJob : ISampleSink
{
    readonly List<int>[] tokens;
    readonly List<float>[] logProbs;
    readonly FinishReason[] reasons;
    readonly TaskCompletionSource<IReadOnlyList<GeneratedSample>> done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int running;

    public TokenCompletionJob(string id, IReadOnlyList<int> prompt, int n)
    {
        Id = id;
        Prompt = prompt;
        tokens = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        logProbs = Enumerable.Range(0, n).Select(_ => new List<float>()).ToArray();
        reasons = new FinishReason[n];
        running = n;
        Created = DateTimeOffset.UtcNow;
    }

    /// <summary>"cmpl-…".</summary>
    public string Id { get; }
    public DateTimeOffset Created { get; }
    public IReadOnlyList<int> Prompt { get; }

    /// <summary>Every choice, once all have ended (or the batcher's error).</summary>
    public Task<IReadOnlyList<GeneratedSample>> Samples => done.Task;

    bool ISampleSink.OnToken(int sample, int tokenId, float logProb, bool last)
    {
        tokens[sample].Add(tokenId);
        logProbs[sample].Add(logProb);
        return false;
    }

    void ISampleSink.OnFinished(int sample, FinishReason reason)
    {
        reasons[sample] = reason;
        if (Interlocked.Decrement(ref running) == 0)
            done.TrySetResult(Enumerable.Range(0, tokens.Length)
                .Select(s => new GeneratedSample(0, s, tokens[s].ToArray(), logProbs[s].ToArray(), reasons[s])).ToList());
    }

    void ISampleSink.OnFailed(Exception error) => done.TrySetException(error);
}
