using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// Preallocated per-layer key/value storage for batched decoding, written in place. Every row has the same
/// length (padding is masked, not packed). GQA layers store K and V as [B, kvHeads, maxLen, headDim];
/// MLA layers store only the normalised latent c_kv [B, maxLen, kvLoraRank] and the shared rotated key
/// k_pe [B, maxLen, ropeDim] — that is MLA's whole point.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] first;
    readonly Tensor[] second;
    /// <summary>The sequence dimension of the stored tensors: 2 for GQA, 1 for MLA.</summary>
    readonly int seqDim;

    public int BatchSize { get; }
    public int MaxLength { get; }
    internal ScalarType DType => first[0].dtype;
    internal Device Device => first[0].device;
    /// <summary>Positions filled so far (the same for every row).</summary>
    public int Length { get; private set; }

    KvCache(Tensor[] first, Tensor[] second, int seqDim, int maxLength, int length)
    {
        this.first = first;
        this.second = second;
        this.seqDim = seqDim;
        BatchSize = (int)first[0].shape[0];
        MaxLength = maxLength;
        Length = length;
    }

    public static KvCache Create(ModelConfig config, int batchSize, int maxLength, Device device, ScalarType dtype = ScalarType.Float32)
    {
        int layers = config.NumHiddenLayers;
        var a = new Tensor[layers];
        var b = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            if (config.IsMla)
            {
                a[i] = zeros([batchSize, maxLength, config.KvLoraRank], dtype, device);
                b[i] = zeros([batchSize, maxLength, config.QkRopeHeadDim], dtype, device);
            }
            else
            {
                a[i] = zeros([batchSize, config.NumKeyValueHeads, maxLength, config.GqaHeadDim], dtype, device);
                b[i] = zeros([batchSize, config.NumKeyValueHeads, maxLength, config.GqaHeadDim], dtype, device);
            }
        }
        return new KvCache(a, b, config.IsMla ? 1 : 2, maxLength, 0);
    }

    /// <summary>Writes the new entries of one layer at [past, past + T) and returns views of [0, past + T).</summary>
    public (Tensor First, Tensor Second) Append(int layer, Tensor newFirst, Tensor newSecond, int past)
    {
        long t = newFirst.shape[seqDim];
        if (past + t > MaxLength)
            throw new InvalidOperationException($"KV cache overflow: {past} + {t} > {MaxLength}");
        first[layer].narrow(seqDim, past, t).copy_(newFirst);
        second[layer].narrow(seqDim, past, t).copy_(newSecond);
        return (first[layer].narrow(seqDim, 0, past + t), second[layer].narrow(seqDim, 0, past + t));
    }

    /// <summary>One layer's storage: keys and values for GQA, the latent and rotary key for MLA.</summary>
    internal (Tensor First, Tensor Second) Layer(int layer) => (first[layer], second[layer]);

    /// <summary>Called by the model after all layers have appended a pass of <paramref name="tokens"/> positions.</summary>
    public void Advance(int tokens) => Length += tokens;

    /// <summary>
    /// A view of the first <paramref name="count"/> rows, sharing this cache's storage (a forward through it fills
    /// those rows; this cache's <see cref="Length"/> is the caller's to advance).
    /// </summary>
    public KvCache FirstRows(int count) => new(
        first.Select(t => t.narrow(0, 0, count)).ToArray(), second.Select(t => t.narrow(0, 0, count)).ToArray(), seqDim, MaxLength, Length);

    /// <summary>A new cache holding only the given rows (finished sequences leave the batch).</summary>
    public KvCache SelectRows(Tensor rows) => new(
        first.Select(t => t.index_select(0, rows)).ToArray(), second.Select(t => t.index_select(0, rows)).ToArray(),
        seqDim, MaxLength, Length);

    public void Dispose()
    {
        foreach (var t in first.Concat(second)) t.Dispose();
    }
}
