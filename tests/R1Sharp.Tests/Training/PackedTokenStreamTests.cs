using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

public class PackedTokenStreamTests
{
    [Fact]
    public void The_shuffle_depends_on_the_seed_alone_so_every_process_reads_the_same_rows()
    {
        // Documents [i, i, i] for i = 0..9: the first row shows the order they were shuffled into.
        var documents = Enumerable.Range(0, 10).Select(i => new[] { i, i, i }).ToList();
        long[] FirstRow(int seed)
        {
            using var batch = new PackedTokenStream(documents, 1, 9, seed).Next(CPU);
            return batch.Inputs.data<long>().ToArray();
        }
        // Fixed expectation: a per-process hash (HashCode.Combine) in the seed would break it on the next run.
        var expected = Enumerable.Range(0, 10).ToArray();
        new Random(7 * 1_000_003).Shuffle(expected);
        Assert.Equal(expected.SelectMany(i => new long[] { i, i, i }).Take(9), FirstRow(7));
        Assert.NotEqual(FirstRow(7), FirstRow(8));
    }
}
