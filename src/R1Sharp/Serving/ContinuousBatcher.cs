using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>
/// The server's side of the one decode loop (<see cref="DecodeLoop"/>): a background thread runs the loop, and requests
/// submitted meanwhile wait in a bounded first-come-first-served queue until the batch has rows (and KV-cache budget)
/// for them, then join between two steps. A waiting request whose caller cancels leaves the queue at once.
/// </summary>
public sealed class ContinuousBatcher : IDisposable, ISubmissionSource
{
    /// <summary>How often an idle loop looks for cancelled or new work even without a wake-up.</summary>
    static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(50);

    readonly DecodeLoop loop;
    readonly LinkedList<Waiting> waiting = [];
    readonly SemaphoreSlim wake = new(0);
    readonly Queue<(Action Work, TaskCompletionSource Done)> betweenSteps = [];
    readonly Thread thread;
    volatile bool stopping;

    /// <param name="tokenizer">Gives the end-of-turn ids that end every sample.</param>
    /// <param name="maxBatch">Most sequences decoded in one step; a request with n samples takes n.</param>
    /// <param name="maxQueue">Most requests waiting to join; past that <see cref="Submit"/> throws <see cref="QueueFullError"/>.</param>
    /// <param name="maxCacheBytes">Most bytes the batch's KV cache may take; a request that alone needs more is refused.</param>
    public ContinuousBatcher(CausalLanguageModel model, ITextTokenizer? tokenizer = null, int maxBatch = 16, int maxQueue = 64,
        long? maxCacheBytes = null)
    {
        if (maxQueue < 1) throw new R1Error($"max queue must be >= 1, got {maxQueue}");
        loop = new DecodeLoop(model, tokenizer, maxBatch, maxCacheBytes);
        MaxBatch = maxBatch;
        MaxQueue = maxQueue;
        thread = new Thread(Run) { IsBackground = true, Name = "r1-decode-loop" };
        thread.Start();
    }

    public int MaxBatch { get; }
    public int MaxQueue { get; }
    /// <summary>Requests submitted and not yet in the batch.</summary>
    public int Queued
    {
        get { lock (waiting) return waiting.Count; }
    }
    /// <summary>Sequences being decoded.</summary>
    public int ActiveRows => loop.LiveRows;
    public DecodeStats Stats => loop.Stats;

    /// <summary>
    /// Queues a request; its sink hears of every token. Throws <see cref="R1Error"/> (or <see cref="ContextLengthError"/>)
    /// for a request that could never run and <see cref="QueueFullError"/> when too many wait. Cancelling
    /// <paramref name="cancellation"/> takes a waiting request out of the queue, or a running one out of the batch.
    /// </summary>
    public void Submit(GenerationRequest request, ISampleSink sink, CancellationToken cancellation = default)
    {
        ObjectDisposedException.ThrowIf(stopping, this);
        loop.Check(request);
        var entry = new Waiting(new Submission(request, sink, cancellation));
        lock (waiting)
        {
            if (waiting.Count >= MaxQueue) throw new QueueFullError(MaxQueue);
            entry.Node = waiting.AddLast(entry);
        }
        // After it is queued: a token cancelled already runs the callback here and now.
        entry.Registration = cancellation.Register(() => Leave(entry));
        wake.Release();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the loop's thread between two decoding steps (a weight reload: no forward sees
    /// half of the old weights and half of the new). The task ends when it has run, with its exception if it threw.
    /// </summary>
    public Task BetweenStepsAsync(Action work)
    {
        ObjectDisposedException.ThrowIf(stopping, this);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (betweenSteps) betweenSteps.Enqueue((work, done));
        wake.Release();
        return done.Task;
    }

    /// <summary>
    /// Waits until no queued or running request uses <paramref name="adapter"/>, then runs <paramref name="free"/> between
    /// two decoding steps, the loop holding no reference to it any more (a server unloading it). The caller must first stop
    /// new requests for it from being submitted.
    /// </summary>
    public async Task ReleaseAsync(LoraAdapter adapter, Action free)
    {
        while (true)
        {
            bool released = false;
            await BetweenStepsAsync(() =>
            {
                bool queued;
                lock (waiting) queued = waiting.Any(w => w.Submission.Request.Adapter == adapter);
                if (queued || loop.Uses(adapter)) return;
                loop.Forget(adapter);
                free();
                released = true;
            });
            if (released) return;
            await Task.Delay(IdlePoll);
        }
    }

    void RunBetweenSteps()
    {
        while (true)
        {
            (Action Work, TaskCompletionSource Done) next;
            lock (betweenSteps)
                if (!betweenSteps.TryDequeue(out next)) return;
            try
            {
                next.Work();
                next.Done.SetResult();
            }
            catch (Exception e)
            {
                next.Done.SetException(e);
            }
        }
    }

    /// <summary>A caller gave up while waiting: its queue slot is free at once.</summary>
    void Leave(Waiting entry)
    {
        lock (waiting)
            if (entry.Node?.List is not null) waiting.Remove(entry.Node);
    }

    bool ISubmissionSource.Take(Func<Submission, bool> admit, List<Submission> joining, bool idle)
    {
        if (idle && !stopping && Queued == 0) wake.Wait(IdlePoll);
        if (stopping) return false;
        RunBetweenSteps();
        lock (waiting)
        {
            // First come, first served: a request that does not fit yet keeps the ones behind it waiting.
            while (waiting.First is { } first && admit(first.Value.Submission))
            {
                waiting.RemoveFirst();
                // Unregister does not wait for a callback that is running (it would be waiting for this lock).
                first.Value.Registration.Unregister();
                joining.Add(first.Value.Submission);
            }
        }
        return true;
    }

    void Run()
    {
        try
        {
            loop.Run(this);
        }
        finally
        {
            var shutdown = new ObjectDisposedException(nameof(ContinuousBatcher), "the server is shutting down");
            loop.FailAll(shutdown);
            List<Waiting> left;
            lock (waiting)
            {
                left = [.. waiting];
                waiting.Clear();
            }
            foreach (var entry in left) entry.Submission.Sink.OnFailed(shutdown);
            lock (betweenSteps)
                while (betweenSteps.TryDequeue(out var work)) work.Done.TrySetException(shutdown);
            loop.Dispose();
        }
    }

    public void Dispose()
    {
        if (stopping) return;
        stopping = true;
        wake.Release();
        thread.Join();
        wake.Dispose();
    }

    /// <summary>A queued request and what takes it out of the queue.</summary>
    sealed class Waiting(Submission submission)
    {
        public Submission Submission => submission;
        public LinkedListNode<Waiting>? Node { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
    }
}
