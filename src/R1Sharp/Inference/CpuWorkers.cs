using System.Diagnostics;

namespace R1Sharp.Inference;

/// <summary>A unit of parallel work split into chunks; one instance is reused for every call so nothing is allocated per call.</summary>
abstract class ParallelJob
{
    /// <summary>Runs chunk <paramref name="chunk"/> on worker <paramref name="worker"/> (0 = the calling thread).</summary>
    public abstract void Execute(int chunk, int worker);
}

/// <summary>
/// Worker threads for the inference kernels. A decode step runs a few hundred short parallel regions, so waking
/// threads must cost microseconds: workers spin briefly on a generation counter and only then block. Chunks are
/// handed out dynamically, which keeps both cores busy when another process steals one for a while.
/// </summary>
sealed class CpuWorkers : IDisposable
{
    /// <summary>How long an idle worker spins before it blocks (covers the host work between decode steps).</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    static readonly Lock SharedGate = new();
    static CpuWorkers? shared;

    /// <summary>The pool for <paramref name="threads"/> threads, rebuilt when the count changes.</summary>
    public static CpuWorkers Shared(int threads)
    {
        lock (SharedGate)
        {
            if (shared is null || shared.Threads != threads)
            {
                shared?.Dispose();
                shared = new CpuWorkers(threads);
            }
            return shared;
        }
    }

    readonly Thread[] threads;
    readonly SemaphoreSlim[] wake;
    readonly int[] sleeping;
    readonly Lock runGate = new();
    ParallelJob? job;
    int chunkCount;
    int nextChunk;
    int pending;
    Exception? failure;
    volatile int generation;
    volatile bool stopping;

    public int Threads { get; }

    CpuWorkers(int count)
    {
        Threads = Math.Max(1, count);
        threads = new Thread[Threads - 1];
        wake = new SemaphoreSlim[Threads - 1];
        sleeping = new int[Threads - 1];
        for (int i = 0; i < threads.Length; i++)
        {
            wake[i] = new SemaphoreSlim(0);
            int worker = i + 1;
            threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"r1-cpu-{worker}" };
            threads[i].Start();
        }
    }

    /// <summary>
    /// Runs chunks 0..<paramref name="chunks"/>-1 of <paramref name="work"/> on all workers and returns when every chunk is done.
    /// A call made while another thread is using the pool runs on the calling thread alone.
    /// </summary>
    public void Run(ParallelJob work, int chunks)
    {
        if (chunks <= 0) return;
        if (Threads == 1 || chunks == 1 || !runGate.TryEnter())
        {
            RunInline(work, chunks);
            return;
        }
        try
        {
            if (stopping)
            {
                RunInline(work, chunks);
                return;
            }
            job = work;
            chunkCount = chunks;
            nextChunk = 0;
            pending = threads.Length;
            Interlocked.Increment(ref generation);
            for (int i = 0; i < threads.Length; i++)
                if (Interlocked.Exchange(ref sleeping[i], 0) == 1) wake[i].Release();
            RunChunks(0);
            var spin = new SpinWait();
            while (Volatile.Read(ref pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
            job = null;
            if (Interlocked.Exchange(ref failure, null) is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            runGate.Exit();
        }
    }

    static void RunInline(ParallelJob work, int chunks)
    {
        for (int i = 0; i < chunks; i++) work.Execute(i, 0);
    }

    /// <summary>Takes chunks until none is left; the first failure stops every worker and is rethrown by <see cref="Run"/>.</summary>
    void RunChunks(int worker)
    {
        var work = job!;
        int count = chunkCount;
        int chunk;
        try
        {
            while ((chunk = Interlocked.Increment(ref nextChunk) - 1) < count) work.Execute(chunk, worker);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref failure, e, null);
            Volatile.Write(ref nextChunk, count);
        }
    }

    void WorkerLoop(int worker)
    {
        int seen = generation;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (generation == seen && !stopping)
            {
                if (Stopwatch.GetTimestamp() - start < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Announce the sleep, then look once more: Run either sees the flag and wakes us, or we see its generation.
                Volatile.Write(ref sleeping[worker - 1], 1);
                if (generation == seen && !stopping) wake[worker - 1].Wait();
                Volatile.Write(ref sleeping[worker - 1], 0);
                start = Stopwatch.GetTimestamp();
            }
            if (generation == seen) return; // stopping
            seen = generation;
            RunChunks(worker);
            Interlocked.Decrement(ref pending);
        }
    }

    /// <summary>Stops the workers once no call is running; later calls run on the calling thread.</summary>
    public void Dispose()
    {
        lock (runGate) stopping = true;
        foreach (var w in wake) w.Release();
        foreach (var t in threads) t.Join();
        foreach (var w in wake) w.Dispose();
    }
}
