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
    /// <summary>
    /// Generation (24 bits) | chunk count (20 bits) | next chunk (20 bits), claimed by compare-and-swap: a worker that
    /// wakes late can only claim a chunk of the call it saw, and nobody waits for a worker that has nothing to do.
    /// </summary>
    long ticket;
    ParallelJob? job;
    int done;
    Exception? failure;
    volatile bool stopping;

    const int ChunkBits = 20;
    const long ChunkMask = (1L << ChunkBits) - 1;

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

    static long Generation(long t) => (long)((ulong)t >> (2 * ChunkBits));

    /// <summary>
    /// Runs chunks 0..<paramref name="chunks"/>-1 of <paramref name="work"/> on all workers and returns when every chunk is done.
    /// A call made while another thread is using the pool runs on the calling thread alone.
    /// </summary>
    public void Run(ParallelJob work, int chunks)
    {
        if (chunks <= 0) return;
        if (Threads == 1 || chunks == 1 || chunks > ChunkMask || !runGate.TryEnter())
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
            done = 0;
            long generation = (Generation(ticket) + 1) & ((1L << 24) - 1);
            // The release write publishes the job to workers that read the ticket.
            Volatile.Write(ref ticket, (generation << (2 * ChunkBits)) | ((long)chunks << ChunkBits));
            for (int i = 0; i < threads.Length; i++)
                if (Interlocked.Exchange(ref sleeping[i], 0) == 1) wake[i].Release();
            RunChunks(0);
            var spin = new SpinWait();
            while (Volatile.Read(ref done) < chunks) spin.SpinOnce(sleep1Threshold: -1);
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

    /// <summary>Claims chunks of the current call until none is left; a failure is kept for <see cref="Run"/> to rethrow.</summary>
    void RunChunks(int worker)
    {
        long seen = Volatile.Read(ref ticket);
        var work = job;
        while (true)
        {
            long chunk = seen & ChunkMask, count = (seen >> ChunkBits) & ChunkMask;
            if (chunk >= count || work is null) return;
            long before = Interlocked.CompareExchange(ref ticket, seen + 1, seen);
            if (before != seen)
            {
                if (Generation(before) != Generation(seen)) return; // a newer call: its own workers handle it
                seen = before;
                continue;
            }
            try
            {
                work.Execute((int)chunk, worker);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
            Interlocked.Increment(ref done);
            seen++;
        }
    }

    void WorkerLoop(int worker)
    {
        long seen = Generation(Volatile.Read(ref ticket));
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            while (Generation(Volatile.Read(ref ticket)) == seen && !stopping)
            {
                if (Stopwatch.GetTimestamp() - start < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                // Announce the sleep, then look once more: Run either sees the flag and wakes us, or we see its ticket.
                Volatile.Write(ref sleeping[worker - 1], 1);
                if (Generation(Volatile.Read(ref ticket)) == seen && !stopping) wake[worker - 1].Wait();
                Volatile.Write(ref sleeping[worker - 1], 0);
                start = Stopwatch.GetTimestamp();
            }
            long current = Generation(Volatile.Read(ref ticket));
            if (current == seen) return; // stopping
            seen = current;
            RunChunks(worker);
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
