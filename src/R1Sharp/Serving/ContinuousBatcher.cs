using System.Collections.Concurrent;
using R1Sharp.Generation;
using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Serving;

/// <summary>Counters of the decode loop since it started.</summary>
public readonly record struct BatcherStats(long Steps, long Tokens, int LargestBatch);

/// <summary>
/// Continuous batching: one background loop decodes every running request together, one token per row per step,
/// and requests that arrive meanwhile join the batch between two steps instead of waiting for it to drain.
/// A joining request is prefilled on its own (all joiners of a step in one left-padded pass), samples its first
/// token from the prefill, and its cache rows are merged with the running ones (<see cref="BatchCache"/>). Rows
/// that finish, or whose caller cancelled, leave the batch at the next merge; merges happen when requests join or a
/// quarter of the rows are done, since each one copies the cache.
/// </summary>
public sealed class ContinuousBatcher : IDisposable
{
    /// <summary>Share of finished rows that makes the loop drop them (copying the cache is not free).</summary>
    const double CompactWhenFinishedShare = 0.25;
    /// <summary>How often an idle loop looks for cancelled or new work even without a wake-up.</summary>
    static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(50);

    readonly CausalLanguageModel model;
    readonly ConcurrentQueue<BatchRequest> waiting = new();
    readonly SemaphoreSlim wake = new(0);
    readonly Thread loop;
    int waitingCount;
    volatile bool stopping;
    volatile int activeRows;
    long steps, tokens;
    int largestBatch;

    // Decode-thread state: the rows in batch order, their shared cache and their key mask [rows, cache length].
    List<Row> rows = [];
    KvCache? cache;
    Tensor? keyMask;

    /// <param name="maxBatch">Most sequences decoded in one step; a request with n samples takes n.</param>
    /// <param name="maxQueue">Most requests waiting to join; past that <see cref="Submit"/> throws <see cref="QueueFullError"/>.</param>
    public ContinuousBatcher(CausalLanguageModel model, int maxBatch = 16, int maxQueue = 64)
    {
        if (maxBatch < 1) throw new R1Error($"max batch must be >= 1, got {maxBatch}");
        if (maxQueue < 1) throw new R1Error($"max queue must be >= 1, got {maxQueue}");
        this.model = model;
        MaxBatch = maxBatch;
        MaxQueue = maxQueue;
        loop = new Thread(Run) { IsBackground = true, Name = "r1-decode-loop" };
        loop.Start();
    }

    public int MaxBatch { get; }
    public int MaxQueue { get; }
    /// <summary>Requests submitted and not yet in the batch.</summary>
    public int Queued => Volatile.Read(ref waitingCount);
    /// <summary>Sequences being decoded.</summary>
    public int ActiveRows => activeRows;
    public BatcherStats Stats => new(Interlocked.Read(ref steps), Interlocked.Read(ref tokens), Volatile.Read(ref largestBatch));

    /// <summary>Queues a request; its sink hears of every token. Throws <see cref="QueueFullError"/> when too many wait.</summary>
    public void Submit(BatchRequest request)
    {
        ObjectDisposedException.ThrowIf(stopping, this);
        request.Options.Validate();
        if (request.NumSamples < 1 || request.NumSamples > MaxBatch)
            throw new R1Error($"number of samples must be in [1, {MaxBatch}] (the batch size), got {request.NumSamples}");
        if (request.PromptIds.Count == 0) throw new R1Error("a prompt must have at least one token");
        if (request.PromptIds.Any(id => id < 0 || id >= model.Config.VocabSize))
            throw new R1Error($"prompt token id out of range [0, {model.Config.VocabSize})");
        if (request.PromptIds.Count + request.Options.MaxNewTokens > model.Config.MaxPositionEmbeddings)
            throw new ContextLengthError(model.Config.MaxPositionEmbeddings, request.PromptIds.Count, request.Options.MaxNewTokens);
        if (Interlocked.Increment(ref waitingCount) > MaxQueue)
        {
            Interlocked.Decrement(ref waitingCount);
            throw new QueueFullError(MaxQueue);
        }
        waiting.Enqueue(request);
        wake.Release();
    }

    public void Dispose()
    {
        if (stopping) return;
        stopping = true;
        wake.Release();
        loop.Join();
        wake.Dispose();
    }

    void Run()
    {
        using var inference = inference_mode();
        while (!stopping)
        {
            try
            {
                Reform();
                activeRows = rows.Count(r => !r.Finished);
                if (rows.Count == 0)
                {
                    wake.Wait(IdlePoll);
                    continue;
                }
                Step();
            }
            catch (Exception e)
            {
                FailRows(e);
            }
        }
        var shutdown = new ObjectDisposedException(nameof(ContinuousBatcher), "the server is shutting down");
        FailRows(shutdown);
        while (waiting.TryDequeue(out var request)) request.Sink.OnFailed(shutdown);
    }

    /// <summary>Lets waiting requests join and drops finished rows, when either is worth a cache merge.</summary>
    void Reform()
    {
        foreach (var row in rows)
            if (!row.Finished && row.Request.Cancellation.IsCancellationRequested) row.Finished = true;

        int live = rows.Count(r => !r.Finished);
        var joining = new List<BatchRequest>();
        int free = MaxBatch - live;
        // First come, first served: a request that does not fit yet keeps the ones behind it waiting.
        while (waiting.TryPeek(out var next) && next.NumSamples <= free && waiting.TryDequeue(out next))
        {
            Interlocked.Decrement(ref waitingCount);
            if (next.Cancellation.IsCancellationRequested) continue;
            joining.Add(next);
            free -= next.NumSamples;
        }
        int finished = rows.Count - live;
        bool compact = finished > 0 && (joining.Count > 0 || finished >= CompactWhenFinishedShare * rows.Count);
        if (joining.Count == 0 && !compact) return;

        try
        {
            Merge(joining);
        }
        catch (Exception e)
        {
            // The joiners are no longer queued and not yet rows: tell them here, the loop tells the rows.
            foreach (var request in joining) request.Sink.OnFailed(e);
            throw;
        }
    }

    /// <summary>Replaces the batch by its unfinished rows followed by the joiners' rows.</summary>
    void Merge(List<BatchRequest> joining)
    {
        KvCache? prefill = null;
        List<(Row Row, int PrefillRow)> joined = [];
        if (joining.Count > 0) (prefill, joined) = Prefill(joining);
        using (prefill)
        {
            var kept = rows.Select((row, index) => (row, index)).Where(x => !x.row.Finished).ToList();
            var newRows = joined.Where(x => !x.Row.Finished).ToList();
            var all = kept.Select(x => x.row).Concat(newRows.Select(x => x.Row)).ToList();
            if (all.Count == 0)
            {
                ClearBatch();
                return;
            }
            int length = all.Max(r => r.Cached);
            int maxLength = length + all.Max(r => r.Request.Options.MaxNewTokens - r.Generated);
            var sources = new List<BatchCache.Source>();
            if (cache is not null) sources.Add(new(cache, kept.Select(x => (long)x.index).ToArray()));
            if (prefill is not null) sources.Add(new(prefill, newRows.Select(x => (long)x.PrefillRow).ToArray()));
            var merged = BatchCache.Gather(model.Config, sources, length, maxLength, model.Device);
            ClearBatch();
            cache = merged;
            rows = all;
            // Right-aligned rows: row b's tokens fill the last Cached positions.
            using var scope = NewDisposeScope();
            var starts = tensor(all.Select(r => (long)(length - r.Cached)).ToArray(), device: model.Device).unsqueeze(1);
            keyMask = (arange(length, device: model.Device).unsqueeze(0) >= starts).MoveToOuterDisposeScope();
        }
    }

    /// <summary>Prefills the joining prompts in one left-padded pass and samples each new row's first token.</summary>
    (KvCache Cache, List<(Row Row, int PrefillRow)> Rows) Prefill(List<BatchRequest> joining)
    {
        int promptLength = joining.Max(r => r.PromptIds.Count);
        var ids = new long[joining.Count * promptLength];
        var mask = new bool[joining.Count * promptLength];
        for (int i = 0; i < joining.Count; i++)
        {
            var prompt = joining[i].PromptIds;
            int pad = promptLength - prompt.Count;
            for (int j = 0; j < prompt.Count; j++)
            {
                ids[i * promptLength + pad + j] = prompt[j];
                mask[i * promptLength + pad + j] = true;
            }
        }
        var newRows = joining.SelectMany((request, i) => Enumerable.Range(0, request.NumSamples)
            .Select(s => (Row: new Row(request, s, request.PromptIds.Count), PrefillRow: i))).ToList();
        var prefill = KvCache.Create(model.Config, joining.Count, promptLength, model.Device);
        long[] first;
        try
        {
            using var scope = NewDisposeScope();
            var idTensor = tensor(ids, device: model.Device).view(joining.Count, promptLength);
            var maskTensor = tensor(mask, device: model.Device).view(joining.Count, promptLength);
            var logits = model.Forward(idTensor, CausalLanguageModel.PositionsFromMask(maskTensor), maskTensor, prefill);
            var perRow = logits.index_select(0, tensor(newRows.Select(x => (long)x.PrefillRow).ToArray(), device: model.Device));
            first = Sample(perRow, newRows.Select(x => x.Row).ToList());
        }
        catch
        {
            prefill.Dispose();
            throw;
        }
        for (int i = 0; i < newRows.Count; i++) Deliver(newRows[i].Row, first[i]);
        return (prefill, newRows);
    }

    /// <summary>One decoding step for the whole batch: feed each row's last token, sample the next.</summary>
    void Step()
    {
        int batch = rows.Count;
        long[] next;
        using (NewDisposeScope())
        {
            var ids = tensor(rows.Select(r => r.NextToken).ToArray(), device: model.Device).view(batch, 1);
            var positions = tensor(rows.Select(r => (long)r.Cached).ToArray(), device: model.Device).view(batch, 1);
            var grown = cat([keyMask!, ones(batch, 1, @bool, model.Device)], 1).MoveToOuterDisposeScope();
            keyMask!.Dispose();
            keyMask = grown;
            var logits = model.Forward(ids, positions, keyMask, cache!);
            next = Sample(logits, rows);
        }
        foreach (var row in rows) row.Cached++;
        for (int b = 0; b < batch; b++)
            if (!rows[b].Finished) Deliver(rows[b], next[b]);
        Interlocked.Increment(ref steps);
        if (batch > largestBatch) Volatile.Write(ref largestBatch, batch);
    }

    /// <summary>Each row draws from its own stream seeded by (request seed, sample, step): batch-mates do not matter.</summary>
    long[] Sample(Tensor logits, IReadOnlyList<Row> batchRows)
    {
        using var sampler = new TokenSampler(batchRows.Select(r => r.Request.Options).ToList(),
            batchRows.Select(r => StepSeed(r.Request.Seed, r.Sample, r.Generated)).ToList(), model.Device);
        var (chosen, _) = sampler.Sample(logits);
        return chosen.data<long>().ToArray();
    }

    void Deliver(Row row, long token)
    {
        row.Generated++;
        Interlocked.Increment(ref tokens);
        var request = row.Request;
        bool stop = request.Sink.OnToken(row.Sample, (int)token) | request.StopTokenIds.Contains((int)token);
        if (stop || row.Generated >= request.Options.MaxNewTokens)
        {
            row.Finished = true;
            request.Sink.OnFinished(row.Sample, stop ? FinishReason.Stop : FinishReason.Length);
        }
        else row.NextToken = token;
    }

    void FailRows(Exception error)
    {
        foreach (var sink in rows.Where(r => !r.Finished).Select(r => r.Request.Sink).Distinct()) sink.OnFailed(error);
        ClearBatch();
        activeRows = 0;
    }

    void ClearBatch()
    {
        cache?.Dispose();
        keyMask?.Dispose();
        cache = null;
        keyMask = null;
        rows = [];
    }

    static int StepSeed(int seed, int sample, int step)
    {
        // SplitMix64 finaliser: nearby (seed, sample, step) triples give unrelated streams.
        ulong x = ((ulong)(uint)seed << 32 | (uint)sample) * 0x9E3779B97F4A7C15UL + (ulong)step * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return (int)(x ^ (x >> 31));
    }

    /// <summary>One sequence in the batch.</summary>
    sealed class Row(BatchRequest request, int sample, int promptLength)
    {
        public BatchRequest Request => request;
        public int Sample => sample;
        /// <summary>Tokens in the cache, which is also the position of <see cref="NextToken"/>.</summary>
        public int Cached { get; set; } = promptLength;
        public int Generated { get; set; }
        /// <summary>The last sampled token, fed at the next step.</summary>
        public long NextToken { get; set; }
        public bool Finished { get; set; }
    }
}
