using R1Sharp.Generation;
using R1Sharp.Serving;

namespace R1Sharp.Tests.Serving;

/// <summary>Keeps what the decode loop reports for one request, and lets a test wait for its end or its n-th token.</summary>
/// <param name="holdAt">
/// When sample 0 receives its holdAt-th token the sink holds the decode loop (it runs on the loop's thread) until
/// <see cref="Resume"/>, so what a test does meanwhile happens mid-decode however fast decoding is; 0 never holds.
/// </param>
sealed class RecordingSink(int samples = 1, int holdAt = 0) : ISampleSink
{
    readonly ManualResetEventSlim resume = new(false);
    readonly List<int>[] tokens = Enumerable.Range(0, samples).Select(_ => new List<int>()).ToArray();
    readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly SemaphoreSlim tokenArrived = new(0);
    int running = samples;

    public FinishReason?[] Reasons { get; } = new FinishReason?[samples];
    public IReadOnlyList<int> Tokens(int sample = 0) { lock (tokens) return tokens[sample].ToList(); }
    public Task Done => done.Task;

    public bool OnToken(int sample, int tokenId, float logProb, bool last)
    {
        int count;
        lock (tokens)
        {
            tokens[sample].Add(tokenId);
            count = tokens[0].Count;
        }
        tokenArrived.Release();
        if (sample == 0 && count == holdAt) resume.Wait(TimeSpan.FromSeconds(30));
        return false;
    }

    public void Resume() => resume.Set();

    public void OnFinished(int sample, FinishReason reason)
    {
        Reasons[sample] = reason;
        if (Interlocked.Decrement(ref running) == 0) done.TrySetResult();
    }

    public void OnFailed(Exception error) => done.TrySetException(error);

    /// <summary>Waits until sample 0 has at least <paramref name="count"/> tokens.</summary>
    public async Task WaitForTokens(int count)
    {
        while (Tokens().Count < count)
            if (!await tokenArrived.WaitAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException("no token for 30 s");
    }
}
