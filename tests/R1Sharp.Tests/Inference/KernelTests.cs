using R1Sharp.Inference;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Inference;

/// <summary>The C# kernels against libtorch, on shapes that hit every tile, tail and blocking path.</summary>
public unsafe class KernelTests
{
    public static IEnumerable<object[]> Shapes() => SimdWidths.Times(
    [
        [1, 37, 50, 1],     // batch-1 decode, N and K off the tile and vector sizes
        [4, 64, 64, 2],
        [7, 130, 1100, 2],  // K > one block, rows in a 4-tile and a remainder
        [33, 70, 530, 3],   // K blocked (M > 16), three workers
        [20, 1030, 576, 2],
    ]);

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Linear_matches_libtorch_for_fused_segments_with_bias_and_accumulation(int m, int n, int k, int threads, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        var g = new Generator(5);
        var x = randn([m, k], generator: g);
        var w1 = randn([n, k], generator: g);
        var w2 = randn([n / 2 + 1, k], generator: g);
        var b2 = randn([n / 2 + 1], generator: g);
        var residual = randn([m, n + n / 2 + 1], generator: g);
        var expected = residual + cat([nn.functional.linear(x, w1), nn.functional.linear(x, w2, b2)], 1);

        var y = residual.clone();
        var workers = CpuWorkers.Shared(threads);
        new LinearJob().Run(workers, width, Ptr(x), m, k, k, Ptr(y), (int)y.shape[1], addToOutput: true,
            [new LinearSegment(Ptr(w1), null, null, n, 0), new LinearSegment(Ptr(w2), null, Ptr(b2), n / 2 + 1, n)]);
        AssertClose(expected, y, 1e-3);

        // Overwrite mode ignores what was there.
        var fresh = full([m, n], float.NaN);
        new LinearJob().Run(workers, width, Ptr(x), m, k, k, Ptr(fresh), n, addToOutput: false, [new LinearSegment(Ptr(w1), null, null, n, 0)]);
        AssertClose(nn.functional.linear(x, w1), fresh, 1e-3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Every_chunk_runs_exactly_once(int threads)
    {
        var job = new CountingJob(1000);
        var workers = CpuWorkers.Shared(threads);
        for (int repeat = 0; repeat < 50; repeat++) workers.Run(job, 1000);
        Assert.All(job.Counts, c => Assert.Equal(50, c));
        Assert.True(job.Workers.Count <= threads);
    }

    [Fact]
    public void A_failing_chunk_surfaces_on_the_caller_and_the_pool_keeps_working()
    {
        var workers = CpuWorkers.Shared(2);
        var e = Assert.Throws<InvalidOperationException>(() => workers.Run(new FailingJob(17), 100));
        Assert.Equal("chunk 17", e.Message);
        var job = new CountingJob(100);
        workers.Run(job, 100);
        Assert.All(job.Counts, c => Assert.Equal(1, c));
    }

    [Fact]
    public void Calls_from_two_threads_at_once_both_complete()
    {
        var workers = CpuWorkers.Shared(2);
        var jobs = new[] { new CountingJob(500), new CountingJob(500) };
        Parallel.For(0, 2, i =>
        {
            for (int repeat = 0; repeat < 20; repeat++) workers.Run(jobs[i], 500);
        });
        Assert.All(jobs, j => Assert.All(j.Counts, c => Assert.Equal(20, c)));
    }

    sealed class CountingJob(int chunks) : ParallelJob
    {
        public readonly int[] Counts = new int[chunks];
        public readonly HashSet<int> Workers = [];

        public override void Execute(int chunk, int worker)
        {
            Interlocked.Increment(ref Counts[chunk]);
            lock (Workers) Workers.Add(worker);
        }
    }

    sealed class FailingJob(int failAt) : ParallelJob
    {
        public override void Execute(int chunk, int worker)
        {
            if (chunk == failAt) throw new InvalidOperationException($"chunk {chunk}");
        }
    }

    static float* Ptr(Tensor t) => TensorMemory.Floats(t);

    static void AssertClose(Tensor expected, Tensor actual, double relative)
    {
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= relative * scale, $"max |Δ| {diff} exceeds {relative} × {scale}");
    }
}
