using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Generation;

/// <summary>A request in the decode loop: what to generate, where its tokens go, and its caller's cancellation.</summary>
public sealed record Submission(GenerationRequest Request, ISampleSink Sink, CancellationToken Cancellation = default)
{
    /// <summary>The request's seed (<see cref="Seeds.Request"/>), fixed when it is submitted.</summary>
    public int Seed { get; } = Seeds.Request(Request.Options.Seed);
}

/// <summary>Where the loop's requests come from: the offline engine's list, or the server's queue.</summary>
internal interface ISubmissionSource
{
    /// <summary>
    /// Adds to <paramref name="joining"/>, in order, the requests that join the batch before the next step, while
    /// <paramref name="admit"/> accepts them (a refused one waits, and so do the ones behind it). <paramref name="idle"/>:
    /// no row is running, so a server may wait here for work. False ends the loop.
    /// </summary>
    bool Take(Func<Submission, bool> admit, List<Submission> joining, bool idle);
}

/// <summary>Counters of a decode loop since it started.</summary>
public readonly record struct DecodeStats(long Steps, long Tokens, int LargestBatch);

/// <summary>
/// The one decode loop: offline generation (<see cref="GenerationEngine"/>: `r1 generate`, `r1 eval`, GRPO rollouts,
/// rejection sampling) and the server (<c>ContinuousBatcher</c>) run their requests here. Each step feeds every
/// running row's last token through one batched forward (<see cref="ForwardRunner"/>) into preallocated buffers and
/// samples each row's next token from its own seeded generator (<see cref="Seeds"/>), so a row's tokens do not depend
/// on its batch-mates. Between steps, requests join (continuous batching): the joiners' prompts are prefilled together
/// in one left-padded pass, once per prompt however many samples it asks for, their first tokens are sampled from the
/// prefill, and their cache rows are merged with the running ones, right-aligned (<see cref="BatchCache"/>). Finished,
/// failed and cancelled rows leave the batch when requests join or a quarter of the rows are done (copying the cache
/// is not free). A request that cannot run fails alone: its checks run before it is queued, its cache must fit the
/// budget before it joins, and a failure of its prefill or merge, or non-finite logits in its rows, end it and no other.
/// <para>
/// The rows of a batch share one LoRA adapter (<see cref="GenerationRequest.Adapter"/>, or none): a request for another
/// adapter waits, first come first served, until the running rows are done, then the batch switches. Mixing adapters in
/// one step would take a low-rank product per row group in every projection (S-LoRA's batching); one adapter per batch
/// keeps each step one forward.
/// </para>
/// </summary>
internal sealed class DecodeLoop : IDisposable
{
    /// <summary>Share of finished rows that makes the loop drop them.</summary>
    const double CompactWhenFinishedShare = 0.25;

    readonly CausalLanguageModel model;
    readonly ForwardRunner forward;
    readonly ITextTokenizer? tokenizer;
    readonly int maxRows;
    readonly long? maxCacheBytes;
    readonly long cacheBytesPerPosition;
    readonly HashSet<int> endOfTurnIds;
    readonly TokenSampler sampler = new();
    // The run this loop generates for (null for the server): prefill and decode FLOPs are counted there.
    readonly ComputeMeter? meter = ComputeMeter.Current;
    readonly Func<Submission, bool> admit;
    readonly List<Submission> joining = [];

    // The batch: rows in batch order, their shared cache, the key mask over it ([rows, capacity], null while no row
    // has padding), and the step's input and output buffers, written in place.
    List<Row> rows = [];
    LoraAdapter? batchAdapter;
    KvCache? cache;
    Tensor? keyMask, ids, positions, logits;
    long[] hostIds = [], hostPositions = [], sampled = [];
    float[] logProbs = [];
    SamplingOptions[] rowOptions = [];
    double[] uniforms = [];
    // What the requests admitted so far this round would make of the batch.
    int admitRows, admitLength, admitRemaining;
    LoraAdapter? admitAdapter;
    long steps, tokens;
    int largestBatch;
    volatile int liveRows;

    /// <param name="tokenizer">Gives the end-of-turn ids that end every sample (<see cref="EndOfTurnIds"/>) and decodes stop strings; null: no implicit stops.</param>
    /// <param name="maxRows">Most rows decoded in one step; a request with n samples takes n.</param>
    /// <param name="maxCacheBytes">Most bytes the batch's KV cache may take; null: no limit.</param>
    public DecodeLoop(CausalLanguageModel model, ITextTokenizer? tokenizer, int maxRows = int.MaxValue, long? maxCacheBytes = null)
    {
        if (maxRows < 1) throw new R1Error($"max batch must be >= 1, got {maxRows}");
        if (maxCacheBytes < 1) throw new R1Error($"max cache bytes must be >= 1, got {maxCacheBytes}");
        this.model = model;
        this.tokenizer = tokenizer;
        this.maxRows = maxRows;
        this.maxCacheBytes = maxCacheBytes;
        forward = ForwardRunner.For(model);
        cacheBytesPerPosition = ModelStats.Of(model.Config).KvCacheBytesPerToken(sizeof(float));
        endOfTurnIds = tokenizer is null ? [] : EndOfTurnIds(model.Config, tokenizer);
        admit = Admit;
    }

    /// <summary>
    /// The ids that end every turn: the tokenizer's EOS, any EOS the model config names, and ChatML's end of turn.
    /// </summary>
    public static HashSet<int> EndOfTurnIds(ModelConfig config, ITextTokenizer tokenizer)
    {
        HashSet<int> ids = [.. config.EosTokenIds];
        if (tokenizer.EosId is int eos) ids.Add(eos);
        if (tokenizer.TokenToId(ChatTokens.ImEnd) is int imEnd) ids.Add(imEnd);
        return ids;
    }

    /// <summary>Rows decoding now (finished ones waiting to leave not counted).</summary>
    public int LiveRows => liveRows;
    public DecodeStats Stats => new(Interlocked.Read(ref steps), Interlocked.Read(ref tokens), Volatile.Read(ref largestBatch));

    /// <summary>Bytes of KV cache for <paramref name="rows"/> rows of <paramref name="positions"/> positions.</summary>
    long CacheBytes(long rows, long positions) => rows * positions * cacheBytesPerPosition;

    /// <summary>
    /// Every check a request must pass before it is queued, so that it can only fail alone: options, prompt ids, the
    /// context, and whether its cache could ever fit the budget. Thread-safe.
    /// </summary>
    public void Check(GenerationRequest request)
    {
        request.Options.Validate();
        var config = model.Config;
        int prompt = request.PromptIds.Count, n = request.NumSamples, maxNew = request.Options.MaxNewTokens;
        if (prompt == 0) throw new R1Error("a prompt must have at least one token");
        if (n < 1 || n > maxRows)
            throw new R1Error(maxRows == int.MaxValue ? $"number of samples must be >= 1, got {n}"
                : $"number of samples must be in [1, {maxRows}] (the batch size), got {n}");
        foreach (int id in request.PromptIds)
            if (id < 0 || id >= config.VocabSize) throw new R1Error($"prompt token id {id} out of range [0, {config.VocabSize})");
        if (request.Options.StopStrings.Count > 0 && tokenizer is null) throw new R1Error("stop strings need a tokenizer");
        if (prompt + maxNew > config.MaxPositionEmbeddings) throw new ContextLengthError(config.MaxPositionEmbeddings, prompt, maxNew);
        if (maxCacheBytes is long budget && CacheBytes(n, prompt + maxNew) > budget)
            throw new R1Error($"this request needs {CacheBytes(n, prompt + maxNew) >> 20} MiB of KV cache ({n} × ({prompt} prompt + {maxNew} " +
                              $"max_tokens) positions) but the cache may take {budget >> 20} MiB; lower max_tokens or n");
    }

    /// <summary>Runs until <paramref name="source"/> ends it (or <paramref name="cancellation"/> throws).</summary>
    public void Run(ISubmissionSource source, CancellationToken cancellation = default)
    {
        using var inference = inference_mode();
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            int live = 0;
            admitLength = admitRemaining = 0;
            foreach (var row in rows)
            {
                if (!row.Group.Ended && row.Group.Submission.Cancellation.IsCancellationRequested) row.Group.Ended = true;
                if (row.Finished) continue;
                live++;
                admitLength = Math.Max(admitLength, row.Cached);
                admitRemaining = Math.Max(admitRemaining, row.Remaining);
            }
            liveRows = live;
            admitRows = live;
            admitAdapter = batchAdapter;
            if (live == 0 && rows.Count > 0) ClearBatch(); // nothing runs: free the cache before waiting for work
            joining.Clear();
            if (!source.Take(admit, joining, idle: live == 0)) break;
            try
            {
                if (joining.Count > 0) Join(joining);
                else if (rows.Count - live > 0 && rows.Count - live >= CompactWhenFinishedShare * rows.Count) Compact();
                if (rows.Count > 0) Step();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A step (or a compaction) is shared by every row, so its failure is theirs: each request hears of it once.
                FailAll(e);
            }
        }
    }

    /// <summary>Whether a row still decoding runs with <paramref name="adapter"/>. On the loop's thread, between steps.</summary>
    public bool Uses(LoraAdapter adapter) => batchAdapter == adapter && rows.Any(r => !r.Finished);

    /// <summary>Drops the loop's reference to <paramref name="adapter"/>, which no row uses (<see cref="Uses"/>), before it
    /// is freed. (The kernels' cached pairs of it are never read again: they are looked up anew for any other adapter.)</summary>
    public void Forget(LoraAdapter adapter)
    {
        if (batchAdapter == adapter) batchAdapter = null;
        if (admitAdapter == adapter) admitAdapter = null;
    }

    /// <summary>Fails every request still in the batch (the loop is ending).</summary>
    public void FailAll(Exception error)
    {
        var groups = rows.Select(r => r.Group).Distinct().ToList();
        ClearBatch();
        foreach (var group in groups) Fail(group, error);
    }

    /// <summary>Accepts a request into this round's joiners if the batch has rows for it and the merged cache fits the budget.</summary>
    bool Admit(Submission submission)
    {
        var request = submission.Request;
        if (admitRows > 0 && request.Adapter != admitAdapter) return false; // one adapter per batch
        int rowsAfter = admitRows + request.NumSamples;
        int length = Math.Max(admitLength, request.PromptIds.Count), remaining = Math.Max(admitRemaining, request.Options.MaxNewTokens);
        if (rowsAfter > maxRows || (maxCacheBytes is long budget && CacheBytes(rowsAfter, length + remaining) > budget)) return false;
        (admitRows, admitLength, admitRemaining, admitAdapter) = (rowsAfter, length, remaining, request.Adapter);
        return true;
    }

    /// <summary>One decoding step for the whole batch: feed each row's last token, sample the next.</summary>
    void Step()
    {
        int batch = rows.Count;
        for (int b = 0; b < batch; b++)
        {
            hostIds[b] = rows[b].NextToken;
            hostPositions[b] = rows[b].Cached;
        }
        WriteLongs(ids!, hostIds.AsSpan(0, batch));
        WriteLongs(positions!, hostPositions.AsSpan(0, batch));
        using (var stepMask = keyMask?.narrow(1, 0, cache!.Length + 1))
            forward.ForwardInto(ids!, positions!, stepMask, cache!, logits!, adapter: batchAdapter);
        // A finished row waiting to leave is fed its last token at its last position again; its output is not read.
        long fed = 0, context = 0;
        foreach (var row in rows)
            if (!row.Finished)
            {
                row.Cached++;
                (fed, context) = (fed + 1, context + row.Cached); // the token fed attends to the cache and itself
            }
        meter?.Decoded(model, fed, context);
        SampleAndDeliver(logits!, rows);
        Interlocked.Increment(ref steps);
        if (batch > largestBatch) Volatile.Write(ref largestBatch, batch);
    }

    /// <summary>Samples row i's next token from logits row i and hands it to the row's request.</summary>
    void SampleAndDeliver(Tensor rowLogits, List<Row> batchRows)
    {
        int n = batchRows.Count;
        EnsureHost(n);
        for (int i = 0; i < n; i++)
        {
            var row = batchRows[i];
            rowOptions[i] = row.Group.Submission.Request.Options;
            // A row draws one number per token it produces, so its stream does not depend on its options or its company.
            uniforms[i] = row.Finished ? 0 : row.Stream.NextDouble();
        }
        sampler.Sample(rowLogits, rowOptions, uniforms, sampled, logProbs);
        for (int i = 0; i < n; i++)
            if (!batchRows[i].Finished) Deliver(batchRows[i], sampled[i], logProbs[i]);
    }

    void Deliver(Row row, long token, float logProb)
    {
        var group = row.Group;
        if (token < 0)
        {
            Fail(group, new R1Error("the model's logits are not finite (NaN or infinity): its weights or its input are broken"));
            return;
        }
        row.Generated++;
        Interlocked.Increment(ref tokens);
        int id = (int)token;
        bool stopToken = group.StopIds.Contains(id);
        bool length = row.Generated >= group.Submission.Request.Options.MaxNewTokens;
        var sink = group.Submission.Sink;
        try
        {
            bool stopped = sink.OnToken(row.Sample, id, logProb, stopToken || length) || stopToken;
            if (stopped || length)
            {
                row.Done = true;
                group.Running--;
                sink.OnFinished(row.Sample, stopped ? FinishReason.Stop : FinishReason.Length);
            }
            else row.NextToken = token;
        }
        catch (Exception e)
        {
            Fail(group, e); // a sink that breaks its contract ends its own request only
        }
    }

    static void Fail(Group group, Exception error)
    {
        if (group.Ended || group.Running == 0) return;
        group.Ended = true;
        try
        {
            group.Submission.Sink.OnFailed(error);
        }
        catch (Exception)
        {
            // Nothing more can be told to a sink that fails to hear of its failure.
        }
    }

    /// <summary>
    /// Prefills the joiners in one left-padded pass, samples their first tokens, and re-forms the batch as its unfinished
    /// rows followed by the joiners' rows. If any of that fails, the joiners fail and the running batch is untouched.
    /// </summary>
    void Join(List<Submission> joiners)
    {
        var config = model.Config;
        var device = model.Device;
        var groups = joiners.Select(s => new Group(s, StopIds(s.Request.Options))).ToList();
        var newRows = new List<Row>();
        var prefillRow = new List<long>();
        int promptLength = joiners.Max(s => s.Request.PromptIds.Count);
        for (int i = 0; i < groups.Count; i++)
            for (int s = 0; s < joiners[i].Request.NumSamples; s++)
            {
                newRows.Add(new Row(groups[i], s, joiners[i].Request.PromptIds.Count));
                prefillRow.Add(i);
            }
        // With no row in the batch, the prefill writes straight into the batch's cache: one row per prompt at the top,
        // spread to a row per sample after the first tokens. Re-forming a whole cache (and faulting in its fresh memory)
        // costs more than a dozen decode steps; only joiners to a running batch need it.
        var batchCache = rows.Count == 0
            ? KvCache.Create(config, newRows.Count, promptLength + joiners.Max(s => s.Request.Options.MaxNewTokens), device) : null;
        var prefill = batchCache?.FirstRows(joiners.Count) ?? KvCache.Create(config, joiners.Count, promptLength, device);
        var adapter = joiners[0].Request.Adapter;
        try
        {
            if (joiners.Any(j => j.Request.Adapter != adapter) || (rows.Any(r => !r.Finished) && batchAdapter != adapter))
                throw new R1Error("requests for different LoRA adapters cannot share a batch");
            using (var scope = NewDisposeScope())
            {
                var promptIds = new long[joiners.Count * promptLength];
                var promptMask = new long[joiners.Count * promptLength];
                bool padded = false;
                for (int i = 0; i < joiners.Count; i++)
                {
                    var prompt = joiners[i].Request.PromptIds;
                    int pad = promptLength - prompt.Count;
                    padded |= pad > 0;
                    for (int j = 0; j < prompt.Count; j++)
                    {
                        promptIds[i * promptLength + pad + j] = prompt[j];
                        promptMask[i * promptLength + pad + j] = 1;
                    }
                }
                var idTensor = tensor(promptIds, device: device).view(joiners.Count, promptLength);
                var maskTensor = tensor(promptMask, device: device).view(joiners.Count, promptLength);
                var prefillLogits = forward.Forward(idTensor, CausalLanguageModel.PositionsFromMask(maskTensor), padded ? maskTensor : null, prefill,
                    adapter: adapter);
                meter?.Prefilled(model, joiners.Select(s => s.Request.PromptIds.Count));
                var perRow = newRows.Count == joiners.Count ? prefillLogits
                    : prefillLogits.index_select(0, tensor(prefillRow.ToArray(), device: device));
                SampleAndDeliver(perRow, newRows);
            }
            if (batchCache is null) Merge(newRows, prefill, prefillRow);
            else
            {
                batchCache.Advance(promptLength);
                var starts = new int[joiners.Count];
                for (int i = 1; i < joiners.Count; i++) starts[i] = starts[i - 1] + joiners[i - 1].Request.NumSamples;
                BatchCache.Spread(config, batchCache, starts, joiners.Select(s => s.Request.NumSamples).ToArray());
                Replace(newRows, batchCache, RightAlignedMask(newRows, promptLength, batchCache.MaxLength));
                batchCache = null; // the batch owns it now
                if (newRows.All(r => r.Finished)) ClearBatch();
            }
            batchAdapter = adapter;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            foreach (var group in groups) Fail(group, e);
        }
        finally
        {
            prefill.Dispose();
            batchCache?.Dispose();
        }
    }

    /// <summary>
    /// The key mask of right-aligned rows: row b's tokens fill the last Cached of <paramref name="length"/> positions,
    /// the ones before are padding. Null when no row has padding.
    /// </summary>
    Tensor? RightAlignedMask(List<Row> batchRows, int length, int capacity)
    {
        if (batchRows.All(r => r.Cached == length)) return null;
        using var starts = tensor(batchRows.Select(r => (long)(length - r.Cached)).ToArray(), device: model.Device).unsqueeze(1);
        using var columns = arange(capacity, device: model.Device).unsqueeze(0);
        return columns >= starts;
    }

    /// <summary>Replaces the batch by its unfinished rows followed by the unfinished new rows, right-aligned in a new cache.</summary>
    void Merge(List<Row> newRows, KvCache prefill, List<long> prefillRow)
    {
        var keptIndex = new List<long>();
        var all = new List<Row>();
        for (int b = 0; b < rows.Count; b++)
            if (!rows[b].Finished)
            {
                keptIndex.Add(b);
                all.Add(rows[b]);
            }
        var newIndex = new List<long>();
        for (int i = 0; i < newRows.Count; i++)
            if (!newRows[i].Finished)
            {
                newIndex.Add(prefillRow[i]);
                all.Add(newRows[i]);
            }
        if (all.Count == 0)
        {
            ClearBatch();
            return;
        }
        int length = all.Max(r => r.Cached);
        int capacity = length + all.Max(r => r.Remaining);
        var sources = new List<BatchCache.Source>();
        if (cache is not null) sources.Add(new(cache, keptIndex.ToArray()));
        sources.Add(new(prefill, newIndex.ToArray()));
        var merged = BatchCache.Gather(model.Config, sources, length, capacity, model.Device);
        Tensor? mask = null;
        try
        {
            mask = RightAlignedMask(all, length, capacity);
            Replace(all, merged, mask);
        }
        catch
        {
            merged.Dispose();
            mask?.Dispose();
            throw;
        }
    }

    /// <summary>Drops finished rows; the cache keeps its positions.</summary>
    void Compact()
    {
        var keep = Enumerable.Range(0, rows.Count).Where(b => !rows[b].Finished).Select(b => (long)b).ToArray();
        if (keep.Length == 0)
        {
            ClearBatch();
            return;
        }
        using var keepIndex = tensor(keep, device: model.Device);
        var kept = cache!.SelectRows(keepIndex);
        Tensor? mask = null;
        try
        {
            mask = keyMask?.index_select(0, keepIndex);
            Replace(keep.Select(b => rows[(int)b]).ToList(), kept, mask);
        }
        catch
        {
            kept.Dispose();
            mask?.Dispose();
            throw;
        }
    }

    /// <summary>Makes <paramref name="newRows"/> the batch, with its cache, key mask and step buffers sized to it.</summary>
    void Replace(List<Row> newRows, KvCache newCache, Tensor? newMask)
    {
        int batch = newRows.Count;
        var device = model.Device;
        var newIds = zeros(batch, 1, int64, device: device);
        var newPositions = zeros(batch, 1, int64, device: device);
        var newLogits = empty(batch, model.Config.VocabSize, device: device);
        ClearBatch();
        (rows, cache, keyMask, ids, positions, logits) = (newRows, newCache, newMask, newIds, newPositions, newLogits);
        EnsureHost(batch);
        liveRows = batch;
    }

    void EnsureHost(int batch)
    {
        if (hostIds.Length >= batch) return;
        hostIds = new long[batch];
        hostPositions = new long[batch];
        sampled = new long[batch];
        logProbs = new float[batch];
        rowOptions = new SamplingOptions[batch];
        uniforms = new double[batch];
    }

    HashSet<int> StopIds(SamplingOptions options)
    {
        if (options.StopTokenIds.Count == 0) return endOfTurnIds;
        HashSet<int> ids = [.. endOfTurnIds];
        ids.UnionWith(options.StopTokenIds);
        return ids;
    }

    void ClearBatch()
    {
        cache?.Dispose();
        foreach (var t in new[] { keyMask, ids, positions, logits }) t?.Dispose();
        (cache, keyMask, ids, positions, logits) = (null, null, null, null, null);
        rows = [];
        liveRows = 0;
    }

    /// <summary>Copies host values (tokens, positions) into a [rows, 1] input of the next step, in place.</summary>
    static unsafe void WriteLongs(Tensor target, ReadOnlySpan<long> values)
    {
        if (target.device_type != TorchSharp.DeviceType.CPU)
        {
            using var host = tensor(values.ToArray(), device: target.device).view(-1, 1);
            target.copy_(host);
            return;
        }
        values.CopyTo(new Span<long>(TensorMemory.Longs(target), values.Length));
    }

    public void Dispose() => ClearBatch();

    /// <summary>One request's rows: they fail or are cancelled together.</summary>
    sealed class Group(Submission submission, HashSet<int> stopIds)
    {
        public Submission Submission => submission;
        public HashSet<int> StopIds => stopIds;
        /// <summary>Samples not finished yet.</summary>
        public int Running { get; set; } = submission.Request.NumSamples;
        /// <summary>Failed or cancelled: its rows are done.</summary>
        public bool Ended { get; set; }
    }

    /// <summary>One sample being generated.</summary>
    sealed class Row(Group group, int sample, int promptLength)
    {
        public Group Group => group;
        public int Sample => sample;
        public Random Stream { get; } = Seeds.Sample(group.Submission.Seed, sample);
        /// <summary>The row's tokens in the cache, which is also the position of <see cref="NextToken"/>.</summary>
        public int Cached { get; set; } = promptLength;
        public int Generated { get; set; }
        /// <summary>Tokens still to come at most.</summary>
        public int Remaining => group.Submission.Request.Options.MaxNewTokens - Generated;
        /// <summary>The last sampled token, fed at the next step.</summary>
        public long NextToken { get; set; }
        public bool Done { get; set; }
        public bool Finished => Done || group.Ended;
    }
}
