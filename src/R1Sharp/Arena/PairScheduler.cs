namespace R1Sharp.Arena;

/// <summary>
/// Draws who fights next so that every pair's battle count stays even: the pair with the fewest battles so far goes
/// first, ties between pairs broken by a seeded generator, which also draws who is model A (so neither side's position
/// favours a contestant). Counts start from the battles already stored; safe to call from many requests at once.
/// </summary>
public sealed class PairScheduler
{
    readonly string[] names;
    readonly int[,] counts;
    readonly Random random;
    readonly Lock gate = new();

    /// <param name="played">Battles already played per pair (<see cref="Key"/>); pairs of other contestants are ignored.</param>
    public PairScheduler(IReadOnlyList<string> contestants, IReadOnlyDictionary<(string, string), int> played, int seed)
    {
        if (contestants.Count < 2) throw new R1Error($"pairing needs at least 2 contestants, got {contestants.Count}");
        names = contestants.ToArray();
        counts = new int[names.Length, names.Length];
        for (int i = 0; i < names.Length; i++)
            for (int j = i + 1; j < names.Length; j++)
                counts[i, j] = played.GetValueOrDefault(Key(names[i], names[j]));
        random = new Random(seed);
    }

    /// <summary>A pair's key, the same whichever side each was on.</summary>
    public static (string, string) Key(string a, string b) => string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);

    /// <summary>Battles counted so far between <paramref name="a"/> and <paramref name="b"/>.</summary>
    public int Count(string a, string b)
    {
        int i = Array.IndexOf(names, a), j = Array.IndexOf(names, b);
        lock (gate) return counts[Math.Min(i, j), Math.Max(i, j)];
    }

    /// <summary>The next battle's contestants as (model A, model B); it counts from now on.</summary>
    public (string A, string B) Next()
    {
        lock (gate)
        {
            int least = int.MaxValue;
            var candidates = new List<(int, int)>();
            for (int i = 0; i < names.Length; i++)
                for (int j = i + 1; j < names.Length; j++)
                {
                    if (counts[i, j] < least)
                    {
                        least = counts[i, j];
                        candidates.Clear();
                    }
                    if (counts[i, j] == least) candidates.Add((i, j));
                }
            var (first, second) = candidates[random.Next(candidates.Count)];
            counts[first, second]++;
            return random.Next(2) == 0 ? (names[first], names[second]) : (names[second], names[first]);
        }
    }

    /// <summary>A battle drawn by <see cref="Next"/> was not played to the end (its page left, a reply failed): uncount it.</summary>
    public void Release(string a, string b)
    {
        int i = Array.IndexOf(names, a), j = Array.IndexOf(names, b);
        lock (gate) counts[Math.Min(i, j), Math.Max(i, j)]--;
    }
}
