using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Pretraining data as nanoGPT packs it: documents (each ending in EOS) are concatenated in a seeded random
/// order and cut into rows of T + 1 tokens, so no compute is spent on padding. Its position (epoch, offset)
/// is part of a checkpoint, so a resumed run reads exactly the batches it would have read.
/// </summary>
public sealed class PackedTokenStream : IBatchSource
{
    readonly IReadOnlyList<int[]> documents;
    readonly int seed;
    readonly int batchSize, sequenceLength;
    int[] stream = [];

    public int Epoch { get; private set; }
    public long Offset { get; private set; }
    public long TokensPerEpoch { get; }

    public PackedTokenStream(IReadOnlyList<int[]> documents, int batchSize, int sequenceLength, int seed)
    {
        this.batchSize = batchSize;
        this.sequenceLength = sequenceLength;
        if (documents.Count == 0 || documents.All(d => d.Length == 0)) throw new R1Error("the training corpus is empty");
        this.documents = documents;
        this.seed = seed;
        TokensPerEpoch = documents.Sum(d => (long)d.Length);
        Shuffle();
    }

    void Shuffle()
    {
        var order = Enumerable.Range(0, documents.Count).ToArray();
        // Not HashCode.Combine: .NET salts it per process, so a new process (a rerun, a resume) would shuffle differently.
        new Random(unchecked(seed * 1_000_003 + Epoch)).Shuffle(order);
        stream = order.SelectMany(i => documents[i]).ToArray();
    }

    public DataPosition Position => new() { Epoch = Epoch, Offset = Offset };

    public void Seek(DataPosition position)
    {
        Epoch = position.Epoch ?? throw new R1Error("a packed token stream's position needs an epoch");
        Offset = position.Offset ?? throw new R1Error("a packed token stream's position needs an offset");
        Shuffle();
    }

    /// <summary>The next [batchSize, sequenceLength] inputs and their next-token targets.</summary>
    public TrainingBatch Next(Device device)
    {
        int row = sequenceLength + 1;
        if (row > stream.Length) throw new R1Error($"the corpus ({stream.Length} tokens) is shorter than one sequence ({row})");
        var tokens = new long[batchSize * row];
        for (int b = 0; b < batchSize; b++)
        {
            // The tail of an epoch too short for a row is dropped; the next epoch is a new shuffle.
            if (Offset + row > stream.Length)
            {
                Epoch++;
                Offset = 0;
                Shuffle();
            }
            for (int j = 0; j < row; j++) tokens[b * row + j] = stream[Offset + j];
            // Consecutive rows share one token, so every token is a target once per epoch.
            Offset += sequenceLength;
        }
        var all = tensor(tokens, device: device).view(batchSize, row);
        var batch = new TrainingBatch(all.narrow(1, 0, sequenceLength).contiguous(), all.narrow(1, 1, sequenceLength).contiguous(), null);
        all.Dispose();
        return batch;
    }
}
