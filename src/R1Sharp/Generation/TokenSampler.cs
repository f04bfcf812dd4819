using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using R1Sharp.Inference;
using static TorchSharp.torch;

namespace R1Sharp.Generation;

/// <summary>
/// Samples one token per row from logits [rows, vocab], each row with its own temperature, top-k, top-p, min-p
/// and random stream. A row keeps the most likely tokens (a prefix in descending probability) that pass all its
/// filters and picks one by inverse CDF over that prefix, in descending order, from a uniform number drawn by
/// the row's own seeded generator, so a row's tokens do not depend on its neighbours' draws. The prefix and the
/// pick are found by weighted selection (expected linear time; with no filter, after bucketing the vocabulary by
/// value) rather than by sorting the vocabulary, and rows run in parallel on the host: no sort per step.
/// </summary>
public sealed class TokenSampler
{
    readonly SampleJob job = new();

    /// <summary>
    /// Writes each row's token and its log-probability (under the temperature-scaled distribution) into host memory,
    /// row r sampled with <paramref name="options"/>[r] at <paramref name="uniforms"/>[r] (a number in [0, 1) from the
    /// row's own generator, <see cref="Seeds"/>). A row whose logits are not all finite (NaN or infinity: a broken model)
    /// gets token −1. Nothing is allocated once the sampler has seen a batch of this vocabulary size.
    /// </summary>
    public unsafe void Sample(Tensor logits, SamplingOptions[] options, double[] uniforms, Span<long> tokens, Span<float> logProbs)
    {
        int rows = (int)logits.size(0);
        if (options.Length < rows || uniforms.Length < rows || tokens.Length < rows || logProbs.Length < rows)
            throw new ArgumentException($"logits have {rows} rows but the options, uniform numbers or outputs are shorter");
        using var host = logits.device_type == TorchSharp.DeviceType.CPU && logits.dtype == ScalarType.Float32 && logits.is_contiguous()
            ? null : logits.to(ScalarType.Float32, CPU).contiguous();
        var workers = CpuWorkers.Shared(get_num_threads());
        fixed (long* t = tokens)
        fixed (float* l = logProbs)
            job.Run(workers, TensorMemory.Floats(host ?? logits), rows, (int)logits.size(1), options, uniforms, t, l);
    }

    /// <summary>Samples rows in parallel; each worker has its own scratch for the vocabulary.</summary>
    sealed unsafe class SampleJob : ParallelJob
    {
        double[] uniforms = [];
        float[][] scaled = [];
        int[][] order = [];
        float* logits;
        int vocab;
        SamplingOptions[] rowOptions = [];
        long* tokens;
        float* logProbs;

        public void Run(CpuWorkers workers, float* rowLogits, int rows, int vocabSize, SamplingOptions[] options, double[] rowUniforms,
            long* tokenOut, float* logProbOut)
        {
            if (scaled.Length < workers.Threads || (scaled.Length > 0 && scaled[0].Length != vocabSize))
            {
                scaled = Enumerable.Range(0, workers.Threads).Select(_ => new float[vocabSize]).ToArray();
                order = Enumerable.Range(0, workers.Threads).Select(_ => new int[vocabSize]).ToArray();
            }
            logits = rowLogits;
            vocab = vocabSize;
            rowOptions = options;
            uniforms = rowUniforms;
            tokens = tokenOut;
            logProbs = logProbOut;
            workers.Run(this, rows);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int row, int worker)
        {
            var (token, logProb) = SampleRow(new ReadOnlySpan<float>(logits + (long)row * vocab, vocab), rowOptions[row], uniforms[row],
                scaled[worker], order[worker]);
            tokens[row] = token;
            logProbs[row] = logProb;
        }
    }

    /// <summary>One row: the token and its log-probability under softmax(logits / temperature); −1 for non-finite logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (int Token, float LogProb) SampleRow(ReadOnlySpan<float> logits, SamplingOptions o, double u, float[] e, int[] order)
    {
        bool greedy = o.IsGreedy;
        float inverseTemperature = greedy ? 1f : (float)(1 / o.Temperature);
        // e = exp(logits / T − max): unnormalised probabilities, the largest exactly 1.
        TensorPrimitives.Multiply(logits, inverseTemperature, e);
        float max = TensorPrimitives.Max(e); // NaN if any logit is NaN
        if (!float.IsFinite(max)) return (-1, float.NaN);
        TensorPrimitives.Subtract(e, max, e);
        TensorPrimitives.Exp(e, e);
        float z = TensorPrimitives.Sum(e);
        int token = greedy ? TensorPrimitives.IndexOfMax(logits) : Pick(e, order, o, u, z);
        return (token, logits[token] * inverseTemperature - max - MathF.Log(z));
    }

    /// <summary>The sampled token: inverse CDF at <paramref name="u"/> over the kept prefix, in descending probability.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Pick(float[] e, int[] order, SamplingOptions o, double u, float z)
    {
        int v = e.Length;
        int kept = v;
        if (o.MinP > 0)
        {
            kept = 0;
            foreach (float x in e) if (x >= (float)o.MinP) kept++; // the top probability is 1 in e's scale
        }
        if (o.TopK > 0) kept = Math.Min(kept, o.TopK);
        if (o.TopP < 1)
        {
            // The nucleus ends at the token whose cumulative mass first reaches top_p: it is the last one with less before it.
            Identity(order);
            kept = Math.Min(kept, Boundary(e, order, v, o.TopP * z) + 1);
        }
        if (kept == v) return PickFromAll(e, order, u * z);
        Identity(order);
        SelectLargest(e, order, v, kept);
        double mass = 0;
        for (int i = 0; i < kept; i++) mass += e[order[i]];
        return order[Boundary(e, order, kept, u * mass)];
    }

    /// <summary>
    /// The inverse-CDF pick over the whole vocabulary (no filter). A float's bits order non-negative floats, so one pass
    /// sums e into buckets by its top bits (exponent and 3 mantissa bits), the walk down the buckets finds the one where
    /// the descending cumulative mass reaches <paramref name="target"/>, and its tokens are gathered; a large bucket (a
    /// flat distribution) is split again by the next 11 bits; the weighted quickselect then runs on a few tokens. Several
    /// partitions of the whole vocabulary took 1 ms a row at 152K tokens; this is a pass and a gather.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int PickFromAll(float[] e, int[] order, double target)
    {
        int n = Narrow(e, order, e.Length, all: true, shift: 20, ref target);
        if (n > 64) n = Narrow(e, order, n, all: false, shift: 9, ref target);
        return order[Boundary(e, order, n, target)];
    }

    const int Buckets = 2048;

    /// <summary>
    /// Of the tokens (all of them, or order[0..n)), puts those of the bucket — bits ≫ <paramref name="shift"/>, 11 bits —
    /// where the descending cumulative mass reaches the target into order[0..) and returns how many; the target loses
    /// the mass of the buckets above. When rounding keeps every bucket short of it, the lowest non-empty bucket.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Narrow(float[] e, int[] order, int n, bool all, int shift, ref double target)
    {
        // Two interleaved histograms, so neighbouring tokens of similar value do not wait on each other's sums.
        Span<double> mass = stackalloc double[2 * Buckets];
        mass.Clear();
        int i = 0;
        for (; i + 1 < n; i += 2)
        {
            int a = all ? i : order[i], b = all ? i + 1 : order[i + 1];
            mass[Key(e[a], shift)] += e[a];
            mass[Buckets + Key(e[b], shift)] += e[b];
        }
        if (i < n) mass[Key(e[all ? i : order[i]], shift)] += e[all ? i : order[i]];
        double above = 0;
        int bucket = Buckets - 1, lowest = -1;
        for (; bucket >= 0; bucket--)
        {
            double inBucket = mass[bucket] + mass[Buckets + bucket];
            if (inBucket <= 0) continue;
            lowest = bucket;
            if (above + inBucket >= target) break;
            above += inBucket;
        }
        if (bucket < 0)
        {
            bucket = lowest;
            above -= mass[bucket] + mass[Buckets + bucket];
        }
        target -= above;
        int kept = 0;
        for (int t = 0; t < n; t++)
        {
            int token = all ? t : order[t];
            if (Key(e[token], shift) == bucket) order[kept++] = token;
        }
        return kept;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Key(float x, int shift) => BitConverter.SingleToInt32Bits(x) >> shift & (Buckets - 1);

    static void Identity(int[] order)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
    }

    /// <summary>
    /// Reorders order[0..n) partly so that the returned position holds the token at which the cumulative sum of e,
    /// taken in descending order, first reaches <paramref name="target"/>, with exactly that many tokens ranked
    /// before it; n − 1 (the least likely) when rounding keeps the sum below the target. Weighted quickselect.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Boundary(float[] e, int[] order, int n, double target)
    {
        int lo = 0, hi = n;
        double above = 0; // mass of order[0..lo), all ranked before the current range
        while (lo < hi)
        {
            var (greaterEnd, equalEnd, pivot, greaterMass) = Partition(e, order, lo, hi);
            if (above + greaterMass >= target && greaterEnd > lo)
            {
                hi = greaterEnd;
                continue;
            }
            above += greaterMass;
            int ties = equalEnd - greaterEnd;
            if (above + ties * (double)pivot >= target)
            {
                // The k-th tie is reached when above + k·pivot ≥ target; the slack keeps float rounding from adding one.
                int k = (int)Math.Ceiling((target - above) / pivot * (1 - 1e-6));
                return greaterEnd + Math.Clamp(k, 1, ties) - 1;
            }
            above += ties * (double)pivot;
            lo = equalEnd;
        }
        return n - 1;
    }

    /// <summary>Reorders order[0..n) so its first k entries are the k largest values of e (quickselect).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SelectLargest(float[] e, int[] order, int n, int k)
    {
        int lo = 0, hi = n;
        while (hi - lo > 1)
        {
            var (greaterEnd, equalEnd, _, _) = Partition(e, order, lo, hi);
            if (k <= greaterEnd) hi = greaterEnd;
            else if (k <= equalEnd) return;
            else lo = equalEnd;
        }
    }

    /// <summary>
    /// Three-way partition of order[lo..hi) by e around a median-of-three pivot: greater values first, then equal,
    /// then smaller. Returns where the greater and equal runs end, the pivot, and the greater run's mass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (int GreaterEnd, int EqualEnd, float Pivot, double GreaterMass) Partition(float[] e, int[] order, int lo, int hi)
    {
        float a = e[order[lo]], b = e[order[lo + (hi - lo) / 2]], c = e[order[hi - 1]];
        float pivot = Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));
        int greater = lo, i = lo, smaller = hi - 1;
        double mass = 0;
        while (i <= smaller)
        {
            float x = e[order[i]];
            if (x > pivot)
            {
                (order[greater], order[i]) = (order[i], order[greater]);
                mass += x;
                greater++;
                i++;
            }
            else if (x < pivot)
            {
                (order[i], order[smaller]) = (order[smaller], order[i]);
                smaller--;
            }
            else i++;
        }
        return (greater, smaller + 1, pivot, mass);
    }
}
