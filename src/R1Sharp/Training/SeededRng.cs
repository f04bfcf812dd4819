using System.Text.Json;

namespace R1Sharp.Training;

/// <summary>Everything needed to continue a <see cref="SeededRng"/> or <see cref="ShuffledSampler"/> exactly.</summary>
public sealed record RngState(ulong Seed, long Position)
{
    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Json);

    public static RngState FromJson(string json, string source) => ConfigJson.Deserialize<RngState>(json, source, SnakeCase.Json);
}

/// <summary>
/// Counter-based random numbers (SplitMix64 of seed and position): the n-th number depends only on (seed, n), so the
/// state saved in a checkpoint is two integers and a resumed run draws exactly what an unbroken run would have,
/// independent of .NET's System.Random implementation.
/// </summary>
public sealed class SeededRng(ulong seed, long position = 0)
{
    const ulong Golden = 0x9E3779B97F4A7C15;

    public ulong Seed { get; } = seed;
    public long Position { get; private set; } = position;
    public RngState State => new(Seed, Position);

    public static SeededRng FromState(RngState state) => new(state.Seed, state.Position);

    public ulong NextUInt64() => Mix(Seed + (ulong)(++Position) * Golden);

    /// <summary>Uniform integer in [0, maxExclusive), without modulo bias.</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be positive");
        // Reject the top partial block of 2^64 so every residue is equally likely.
        ulong n = (ulong)maxExclusive, limit = ulong.MaxValue - ulong.MaxValue % n;
        ulong x;
        do x = NextUInt64(); while (x >= limit);
        return (int)(x % n);
    }

    /// <summary>Uniform integer in [minInclusive, maxExclusive).</summary>
    public int Next(int minInclusive, int maxExclusive) => minInclusive + Next(maxExclusive - minInclusive);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>SplitMix64's finaliser: a bijective avalanche of 64 bits.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}

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
