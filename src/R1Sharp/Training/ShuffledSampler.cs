namespace R1Sharp.Training;

/// <summary>
/// Draws indices 0..count−1 in a fresh shuffled order every epoch (each item once per epoch). The order of epoch e
/// depends only on (seed, e), so the state is (seed, number drawn): a resumed run continues with the same prompts.
/// </summary>
public sealed class ShuffledSampler
{
    readonly int count;
    long epochOfOrder = -1;
    int[] order = [];

    public ShuffledSampler(int count, ulong seed, long position = 0)
    {
        if (count <= 0)
            throw new R1Error($"cannot sample from an empty set ({count} items)");
        if (position < 0)
            throw new R1Error($"sampler position {position} is negative");
        this.count = count;
        Seed = seed;
        Position = position;
    }

    public static ShuffledSampler FromState(int count, RngState state) => new(count, state.Seed, state.Position);

    public ulong Seed { get; }
    /// <summary>Indices drawn so far, over all epochs.</summary>
    public long Position { get; private set; }
    public long Epoch => Position / count;
    public RngState State => new(Seed, Position);

    public int Next()
    {
        if (Epoch != epochOfOrder)
            ShuffleFor(Epoch);
        return order[Position++ % count];
    }

    public int[] Next(int howMany) => Enumerable.Range(0, howMany).Select(_ => Next()).ToArray();

    void ShuffleFor(long epoch)
    {
        var rng = new SeededRng(SeededRng.Mix(Seed ^ SeededRng.Mix((ulong)epoch + 1)));
        order = Enumerable.Range(0, count).ToArray();
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        epochOfOrder = epoch;
    }
}
