using R1Sharp.Training;
using TorchSharp;

namespace R1Sharp.Tests.Training;

public class RngStateTests
{
    [Fact]
    public void SeededRngResumedFromItsStateContinuesTheSameSequence()
    {
        var unbroken = new SeededRng(7);
        var first = Enumerable.Range(0, 5).Select(_ => unbroken.Next(1000)).ToArray();
        var saved = RngState.FromJson(unbroken.State.ToJson(), "test");
        var rest = Enumerable.Range(0, 5).Select(_ => unbroken.Next(1000)).ToArray();

        var resumed = SeededRng.FromState(saved);
        Assert.Equal(rest, Enumerable.Range(0, 5).Select(_ => resumed.Next(1000)));
        Assert.Equal(first, Enumerable.Range(0, 5).Select(_ => new SeededRng(7)).Select((r, i) => { for (int k = 0; k < i; k++) r.Next(1000); return r.Next(1000); }));
        Assert.NotEqual(first, Enumerable.Range(0, 5).Select(_ => 0).Select((_, i) => new SeededRng(8, i).Next(1000)));
    }

    [Fact]
    public void SeededRngIsRoughlyUniform()
    {
        var rng = new SeededRng(1);
        var counts = new int[10];
        for (int i = 0; i < 10_000; i++)
            counts[rng.Next(10)]++;
        Assert.All(counts, c => Assert.InRange(c, 900, 1100));
        Assert.All(Enumerable.Range(0, 1000).Select(_ => rng.NextDouble()), d => Assert.InRange(d, 0, 0.9999999999));
    }

    [Fact]
    public void ShuffledSamplerVisitsEveryItemOncePerEpochAndResumes()
    {
        var sampler = new ShuffledSampler(count: 7, seed: 3);
        var epoch0 = sampler.Next(7);
        var epoch1 = sampler.Next(7);
        Assert.Equal(Enumerable.Range(0, 7), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, 7), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);

        var midway = new ShuffledSampler(7, 3);
        midway.Next(10);
        var resumed = ShuffledSampler.FromState(7, midway.State);
        Assert.Equal(midway.Next(6), resumed.Next(6));
        Assert.Equal(epoch1[3..], new ShuffledSampler(7, 3, position: 10).Next(4));
    }

    [Fact]
    public void TorchGeneratorStateRestoresTheSameDraws()
    {
        using var generator = new torch.Generator(11);
        var state = TorchRngState.Capture(generator);
        using var first = torch.rand(5, generator: generator);
        TorchRngState.Restore(state, generator);
        using var again = torch.rand(5, generator: generator);
        Assert.Equal(first.data<float>().ToArray(), again.data<float>().ToArray());
    }
}
