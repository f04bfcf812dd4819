using R1Sharp.Model;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Generation;

/// <summary>
/// Batched generation with a preallocated KV cache. All prompts are prefilled in one left-padded pass; each
/// prompt's cache rows are then repeated for its samples, so G samples of one prompt cost one prefill.
/// Finished rows leave the batch so the remaining ones decode at full speed.
/// </summary>
public sealed class GenerationEngine(CausalLanguageModel model, ITextTokenizer? tokenizer = null)
{
    /// <summary>Rows finished per step before the batch is compacted (copying the cache is not free).</summary>
    const double CompactWhenFinishedShare = 0.25;

    public CausalLanguageModel Model => model;
    public ITextTokenizer? Tokenizer => tokenizer;

    /// <summary>Generates every request's samples; the result is indexed [request][sample].</summary>
    public IReadOnlyList<IReadOnlyList<GeneratedSample>> Generate(IReadOnlyList<GenerationRequest> requests,
        Action<TokenEvent>? onToken = null, CancellationToken cancellation = default)
    {
        if (requests.Count == 0) return [];
        foreach (var r in requests)
        {
            r.Options.Validate();
            if (r.PromptIds.Count == 0) throw new R1Error("a prompt must have at least one token");
            if (r.NumSamples < 1) throw new R1Error($"number of samples must be >= 1, got {r.NumSamples}");
            if (r.Options.StopStrings.Count > 0 && tokenizer is null) throw new R1Error("stop strings need a tokenizer");
            if (r.PromptIds.Any(id => id < 0 || id >= model.Config.VocabSize))
                throw new R1Error($"prompt token id out of range [0, {model.Config.VocabSize})");
        }
        int promptLength = requests.Max(r => r.PromptIds.Count);
        int maxNew = requests.Max(r => r.Options.MaxNewTokens);
        if (promptLength + maxNew > model.Config.MaxPositionEmbeddings)
            throw new R1Error($"prompt ({promptLength} tokens) + max new tokens ({maxNew}) exceeds the model's context of {model.Config.MaxPositionEmbeddings}");

        using var inference = inference_mode();
        var device = model.Device;
        var rows = requests.SelectMany((r, i) => Enumerable.Range(0, r.NumSamples).Select(s => new Row(i, s, r))).ToList();
        var seedSource = new Random();
        var requestSeeds = requests.Select(r => r.Options.Seed ?? seedSource.Next()).ToArray();
        var sampler = new TokenSampler(rows.Select(r => r.Request.Options).ToList(),
            rows.Select(r => unchecked(requestSeeds[r.RequestIndex] * 1_000_003 + r.SampleIndex)).ToList(), device);

        // Prefill the distinct prompts, left-padded to one length.
        var promptIds = new long[requests.Count * promptLength];
        var promptMask = new long[requests.Count * promptLength];
        for (int i = 0; i < requests.Count; i++)
        {
            int pad = promptLength - requests[i].PromptIds.Count;
            for (int j = 0; j < requests[i].PromptIds.Count; j++)
            {
                promptIds[i * promptLength + pad + j] = requests[i].PromptIds[j];
                promptMask[i * promptLength + pad + j] = 1;
            }
        }
        // Rows of different prompt lengths are left-padded; without padding no key mask is needed at all.
        bool padded = requests.Any(r => r.PromptIds.Count != promptLength);
        int totalLength = promptLength + maxNew;
        using var ids = tensor(promptIds, device: device).view(requests.Count, promptLength);
        using var promptMaskTensor = tensor(promptMask, device: device).view(requests.Count, promptLength);
        using var repeats = tensor(requests.Select(r => (long)r.NumSamples).ToArray(), device: device);

        // Buffers for the decode loop, written in place each step; compaction replaces them with their kept rows.
        var logitsBuffer = empty(rows.Count, model.Config.VocabSize, device: device);
        var next = zeros(rows.Count, 1, int64, device: device);
        var positionArray = rows.Select(r => (long)r.Request.PromptIds.Count).ToArray();
        var positions = zeros(rows.Count, 1, int64, device: device);
        Tensor? keyMask = null;
        // With one sample per prompt the prefill cache is the decode cache; otherwise its rows are repeated per sample.
        bool oneSampleEach = requests.All(r => r.NumSamples == 1);
        var cache = KvCache.Create(model.Config, requests.Count, oneSampleEach ? totalLength : promptLength, device);
        try
        {
            using var prefillPositions = CausalLanguageModel.PositionsFromMask(promptMaskTensor);
            using var prefillLogits = model.Forward(ids, prefillPositions, padded ? promptMaskTensor : null, cache);
            if (oneSampleEach) logitsBuffer.copy_(prefillLogits);
            else
            {
                using var perRow = prefillLogits.repeat_interleave(repeats, 0);
                logitsBuffer.copy_(perRow);
                Replace(ref cache, cache.RepeatRows(repeats, totalLength));
            }
        }
        catch
        {
            cache.Dispose();
            throw;
        }
        if (padded)
        {
            keyMask = ones(rows.Count, totalLength, int64, device: device);
            using var promptRows = promptMaskTensor.repeat_interleave(repeats, 0);
            keyMask.narrow(1, 0, promptLength).copy_(promptRows);
        }

        var active = Enumerable.Range(0, rows.Count).ToList(); // row index of each batch position
        var tokenArray = new long[rows.Count];
        var logProbArray = new float[rows.Count];
        try
        {
            while (active.Count > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                int batch = active.Count;
                sampler.Sample(logitsBuffer, tokenArray.AsSpan(0, batch), logProbArray.AsSpan(0, batch));
                for (int b = 0; b < batch; b++)
                {
                    var row = rows[active[b]];
                    if (row.Finished) continue; // waiting for the next compaction
                    bool finished = row.Add((int)tokenArray[b], logProbArray[b], tokenizer);
                    onToken?.Invoke(new TokenEvent(row.RequestIndex, row.SampleIndex, (int)tokenArray[b], logProbArray[b], finished));
                }
                int finishedCount = active.Count(a => rows[a].Finished);
                if (finishedCount == batch) break;
                WriteLongs(next, tokenArray.AsSpan(0, batch));
                if (finishedCount >= CompactWhenFinishedShare * batch)
                {
                    long[] keepPositions = Enumerable.Range(0, batch).Where(b => !rows[active[b]].Finished).Select(b => (long)b).ToArray();
                    using var keep = tensor(keepPositions, device: device);
                    Replace(ref cache, cache.SelectRows(keep));
                    Replace(ref sampler, sampler.Select(keepPositions, keep));
                    if (keyMask is not null) Replace(ref keyMask, keyMask.index_select(0, keep));
                    Replace(ref positions, positions.index_select(0, keep));
                    for (int i = 0; i < keepPositions.Length; i++) positionArray[i] = positionArray[keepPositions[i]];
                    Replace(ref next, next.index_select(0, keep));
                    Replace(ref logitsBuffer, empty(keepPositions.Length, model.Config.VocabSize, device: device));
                    active = keepPositions.Select(b => active[(int)b]).ToList();
                }
                WriteLongs(positions, positionArray.AsSpan(0, active.Count));
                using (var stepMask = keyMask?.narrow(1, 0, cache.Length + 1))
                    model.ForwardInto(next, positions, stepMask, cache, logitsBuffer);
                for (int i = 0; i < active.Count; i++) positionArray[i]++;
            }
        }
        finally
        {
            cache.Dispose();
            sampler.Dispose();
            foreach (var t in new[] { logitsBuffer, next, positions, keyMask }) t?.Dispose();
        }
        return requests.Select((_, i) => (IReadOnlyList<GeneratedSample>)rows.Where(r => r.RequestIndex == i).Select(r => r.ToSample()).ToList()).ToList();
    }

    /// <summary>Copies host values (sampled tokens, positions) into a [rows, 1] input of the next step, in place.</summary>
    static unsafe void WriteLongs(Tensor target, ReadOnlySpan<long> values)
    {
        if (target.device_type != TorchSharp.DeviceType.CPU)
        {
            using var host = tensor(values.ToArray(), device: target.device).view(-1, 1);
            target.copy_(host);
            return;
        }
        values.CopyTo(new Span<long>(R1Sharp.Inference.TensorMemory.Longs(target), values.Length));
    }

    static void Replace<T>(ref T slot, T value) where T : IDisposable
    {
        var old = slot;
        slot = value;
        old.Dispose();
    }

    /// <summary>One sample being generated.</summary>
    sealed class Row(int requestIndex, int sampleIndex, GenerationRequest request)
    {
        readonly List<int> tokens = [];
        readonly List<float> logProbs = [];
        FinishReason reason = FinishReason.Length;
        string? matchedStop;

        public int RequestIndex => requestIndex;
        public int SampleIndex => sampleIndex;
        public GenerationRequest Request => request;
        public bool Finished { get; private set; }

        /// <summary>Records a token; returns true when the sample is done.</summary>
        public bool Add(int token, float logProb, ITextTokenizer? tokenizer)
        {
            if (Finished) return true;
            tokens.Add(token);
            logProbs.Add(logProb);
            var o = request.Options;
            if (o.StopTokenIds.Contains(token) || token == tokenizer?.EosId)
                return Finish(FinishReason.Stop);
            if (o.StopStrings.Count > 0)
            {
                // Only the tail can newly contain a stop string; decode enough tokens to cover the longest one.
                int window = Math.Min(tokens.Count, o.StopStrings.Max(s => s.Length) + 8);
                string tail = tokenizer!.Decode(tokens.Skip(tokens.Count - window));
                matchedStop = o.StopStrings.FirstOrDefault(tail.Contains);
                if (matchedStop is not null) return Finish(FinishReason.Stop);
            }
            return tokens.Count >= o.MaxNewTokens && Finish(FinishReason.Length);
        }

        bool Finish(FinishReason why)
        {
            reason = why;
            Finished = true;
            return true;
        }

        public GeneratedSample ToSample() => new(requestIndex, sampleIndex, tokens.ToArray(), logProbs.ToArray(), reason, matchedStop);
    }
}
