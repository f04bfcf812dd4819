using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Generation;

/// <summary>
/// Re-forms a decoding batch's KV cache when rows join or leave. Every row of a <see cref="KvCache"/> is filled to the
/// same length, so a batch keeps its rows right-aligned: each row's tokens end at the cache's length and the positions
/// before a row's first token are padding that its key mask hides. Re-forming gathers the chosen rows of one or more
/// caches, right-aligned to a new common length, into a fresh cache.
/// </summary>
/// <remarks>
/// KvCache exposes its stored tensors only through <see cref="KvCache.Append"/>, which returns views of the filled
/// positions; appending zero positions reads them without writing anything.
/// </remarks>
public static class BatchCache
{
    /// <summary>Rows taken from one source cache: row indices (repeats allowed) into <paramref name="Cache"/>.</summary>
    public readonly record struct Source(KvCache Cache, long[] Rows);

    /// <summary>
    /// A cache of <paramref name="maxLength"/> positions, filled to <paramref name="length"/>, holding the sources' rows
    /// in order. Each source's filled positions are right-aligned to <paramref name="length"/>: shorter sources get
    /// padding on the left, longer ones lose their leftmost positions (which must be padding for the chosen rows).
    /// </summary>
    public static KvCache Gather(ModelConfig config, IReadOnlyList<Source> sources, int length, int maxLength, Device device)
    {
        int batch = sources.Sum(s => s.Rows.Length);
        var cache = KvCache.Create(config, batch, maxLength, device);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            var firsts = new List<Tensor>();
            var seconds = new List<Tensor>();
            foreach (var source in sources.Where(s => s.Rows.Length > 0))
            {
                var (first, second) = Filled(config, source.Cache, layer, device);
                var rows = tensor(source.Rows, device: device);
                firsts.Add(RightAlign(first.index_select(0, rows), SequenceDim(config), length));
                seconds.Add(RightAlign(second.index_select(0, rows), SequenceDim(config), length));
            }
            cache.Append(layer, cat(firsts, 0), cat(seconds, 0), past: 0);
        }
        cache.Advance(length);
        return cache;
    }

    /// <summary>
    /// Spreads rows in place: row i (i &lt; <paramref name="counts"/>.Length) is copied to rows [starts[i], starts[i] +
    /// counts[i]), where starts[i] ≥ i and the ranges follow each other in order — a prefill's row per prompt becomes a
    /// row per sample. Later prompts go first, so no row is overwritten before it is read.
    /// </summary>
    public static void Spread(ModelConfig config, KvCache cache, IReadOnlyList<int> starts, IReadOnlyList<int> counts)
    {
        int seq = SequenceDim(config);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            var (first, second) = cache.Layer(layer);
            foreach (var storage in new[] { first, second })
            {
                var filled = storage.narrow(seq, 0, cache.Length);
                for (int i = counts.Count - 1; i >= 0; i--)
                {
                    int start = starts[i], n = counts[i];
                    if (start != i) filled.narrow(0, start, 1).copy_(filled.narrow(0, i, 1));
                    if (n == 1) continue;
                    var shape = filled.shape.ToArray();
                    shape[0] = n - 1;
                    filled.narrow(0, start + 1, n - 1).copy_(filled.narrow(0, start, 1).expand(shape));
                }
            }
        }
    }

    /// <summary>Views of one layer's filled positions [0, Length).</summary>
    static (Tensor First, Tensor Second) Filled(ModelConfig config, KvCache cache, int layer, Device device)
    {
        long b = cache.BatchSize;
        long[] firstShape = config.IsMla ? [b, 0, config.KvLoraRank] : [b, config.NumKeyValueHeads, 0, config.GqaHeadDim];
        long[] secondShape = config.IsMla ? [b, 0, config.QkRopeHeadDim] : firstShape;
        return cache.Append(layer, empty(firstShape, device: device), empty(secondShape, device: device), cache.Length);
    }

    /// <summary>The dimension positions run along: [B, heads, T, d] for GQA, [B, T, d] for MLA.</summary>
    static int SequenceDim(ModelConfig config) => config.IsMla ? 1 : 2;

    static Tensor RightAlign(Tensor t, int dim, int length)
    {
        long have = t.shape[dim];
        if (have >= length) return t.narrow(dim, have - length, length);
        var padShape = t.shape.ToArray();
        padShape[dim] = length - have;
        return cat([zeros(padShape, t.dtype, t.device), t], dim);
    }
}
