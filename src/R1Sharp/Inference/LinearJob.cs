using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using R1Sharp.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// One weight matrix [N, K] (nn.Linear layout) whose outputs land at columns [Column, Column + N) of Y: float32 rows
/// (a live parameter, read in place), <see cref="PackedMatrix"/> rows (quantized, F16 or BF16, as a GGUF file stores them)
/// or a parameter's <see cref="Bf16Matrix"/> copy.
/// </summary>
unsafe readonly struct LinearSegment(float* weight, PackedMatrix? packed, float* bias, int n, int column, Bf16Matrix? bf16 = null)
{
    public readonly float* Weight = weight, Bias = bias;
    public readonly PackedMatrix? Packed = packed;
    /// <summary>The weight's bfloat16 copy (generation's `--precision bf16`); when set, Weight and Packed are null.</summary>
    public readonly Bf16Matrix? Bf16 = bf16;
    public readonly int N = n, Column = column;

    /// <summary>Float32 rows read in place: a parameter, or packed F32 rows in stored order.</summary>
    public float* DenseRows => Weight != null ? Weight
        : Packed is { Type: Gguf.GgmlType.F32, RowOrder: null } p ? (float*)p.Row(0) : null;
}

/// <summary>
/// Y[m, :] = X[m, :] · Wᵀ (+ bias), or Y += that, for a few weight matrices at once (q/k/v, gate/up): one parallel
/// region instead of several, reading the live parameters, so there is no fused copy to keep in sync with training.
/// Output rows are split into chunks across the workers; large M is blocked along K so a tile of X stays in L1
/// while W streams from L2. Quantized weights take the integer kernels (<see cref="QuantizedDots"/>) on X quantized
/// once per call to 8-bit blocks — on CPUs with AVX-VNNI, Q4_K, Q5_K, Q6_K and Q8_0 weights through their repacked
/// <see cref="QuantizedPanels"/>; F16 and BF16 weights are widened to float32 a few rows at a time.
/// </summary>
sealed unsafe class LinearJob : ParallelJob
{
    /// <summary>K per block when M is large (a 4-row tile of X is 8 KiB).</summary>
    const int KBlock = 512;
    /// <summary>
    /// Above this many rows of X, K is blocked (and W tiles prefetched); a matrix-vector product instead streams whole
    /// rows of W, which the hardware prefetcher follows best.
    /// </summary>
    const int BlockAboveRows = 3;
    /// <summary>Rows of F16/BF16 weights widened at a time into a worker's scratch (8 rows of 8960 floats: 280 KiB).</summary>
    const int WidenRows = 8;
    /// <summary>Bytes of quantized weight rows the integer kernels take at a time when several tiles of X pass them: within L1.</summary>
    const int QuantizedRunBytes = 24 * 1024;
    /// <summary>Up to this many bytes of quantized activations (rows × K), weight rows are taken in such runs.</summary>
    const int QuantizedRunActivationBytes = 256 * 1024;

    readonly LinearSegment[] segments = new LinearSegment[3];
    readonly QuantizedPanels?[] panels = new QuantizedPanels?[3];
    readonly int[] firstChunk = new int[4];
    readonly QuantizedActivations blocks32 = new(), blocks256 = new();
    readonly QuantizeActivationsJob quantize = new();
    readonly WorkerBuffers widened = new();
    int segmentCount;
    float* x, y;
    int rows, k, ldx, ldy, chunkRows;
    bool accumulate;
    SimdWidth width;

    /// <summary>Runs the product of X [<paramref name="m"/>, <paramref name="kDim"/>] (row stride <paramref name="xStride"/>) on <paramref name="workers"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(CpuWorkers workers, SimdWidth simd, float* input, int m, int kDim, int xStride, float* output, int yStride, bool addToOutput,
        ReadOnlySpan<LinearSegment> weights)
    {
        if (weights.Length > segments.Length) throw new ArgumentException("at most 3 weight segments");
        SimdKernels.Check(simd);
        width = simd;
        x = input;
        y = output;
        rows = m;
        k = kDim;
        ldx = xStride;
        ldy = yStride;
        accumulate = addToOutput;
        segmentCount = weights.Length;
        int totalN = 0;
        bool needs32 = false, needs256 = false, needsWidening = false;
        for (int i = 0; i < weights.Length; i++)
        {
            var s = weights[i];
            totalN += s.N;
            panels[i] = null;
            if (s.Bf16 is { } copy && (copy.Columns != kDim || copy.Rows < s.N)) throw new ArgumentException("a bf16 weight's shape does not fit the product");
            if (s.DenseRows != null || s.Bf16 is not null) continue;
            if (QuantizedDots.Supports(s.Packed!.Type))
            {
                if (QuantizedDots.ActivationBlock(s.Packed.Type) == 256) needs256 = true;
                else needs32 = true;
                // The panel kernels are 256-bit AVX-VNNI, so any run at 256 bits or wider takes them where the CPU has it.
                if (simd >= SimdWidth.Bits256 && QuantizedPanels.Used(s.Packed.Type) && s.N == s.Packed.Rows)
                    panels[i] = QuantizedPanels.For(s.Packed, workers);
            }
            else needsWidening = true;
        }
        if (needs32) quantize.Run(workers, blocks32, input, m, kDim, xStride, 32);
        if (needs256) quantize.Run(workers, blocks256, input, m, kDim, xStride, 256);
        if (needsWidening) widened.Ensure(workers.Threads, (long)WidenRows * kDim);
        // Decode: enough chunks to balance the workers, each a whole number of 8-row panels. Prefill: 64 rows of W per
        // chunk, so a block of W (64 × 512 floats) stays in L2 while every tile of X passes it.
        chunkRows = Math.Max(16, (totalN / (workers.Threads * 8) + 7) & ~7);
        if (m > BlockAboveRows) chunkRows = m > 16 ? 64 : Math.Max(chunkRows, 64);
        int chunks = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            segments[i] = weights[i];
            firstChunk[i] = chunks;
            chunks += (weights[i].N + chunkRows - 1) / chunkRows;
        }
        firstChunk[weights.Length] = chunks;
        workers.Run(this, chunks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Execute(int chunk, int worker)
    {
        switch (width)
        {
            case SimdWidth.Bits512: Execute<Vector512<float>, Vector512<byte>>(chunk, worker); break;
            case SimdWidth.Bits256: Execute<Vector256<float>, Vector256<byte>>(chunk, worker); break;
            default: Execute<Vector128<float>, Vector128<byte>>(chunk, worker); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Execute<TVec, TBytes>(int chunk, int worker) where TVec : struct where TBytes : struct
    {
        int s = 0;
        while (chunk >= firstChunk[s + 1]) s++;
        var segment = segments[s];
        int n0 = (chunk - firstChunk[s]) * chunkRows;
        int n1 = Math.Min(segment.N, n0 + chunkRows);
        float* yc = y + segment.Column;
        if (segment.DenseRows is var dense && dense != null)
        {
            int kb = rows > BlockAboveRows ? KBlock : k;
            for (int k0 = 0; k0 < k; k0 += kb)
                DotProducts.Block<TVec>(x + k0, ldx, rows, dense + k0, k, n0, n1, yc, ldy, Math.Min(kb, k - k0), accumulate || k0 > 0);
        }
        else if (segment.Bf16 is { } bf16)
        {
            // Blocked along K as the float32 rows are; KBlock is a whole number of the copy's 32-column blocks.
            int kb = rows > BlockAboveRows ? KBlock : k;
            for (int k0 = 0; k0 < k; k0 += kb)
                Bf16Dots.Block<TVec>(x + k0, ldx, rows, bf16.Data + k0, k, n0, n1, yc, ldy, Math.Min(kb, k - k0), accumulate || k0 > 0);
        }
        else if (QuantizedDots.Supports(segment.Packed!.Type))
        {
            var packed = segment.Packed;
            var activations = QuantizedDots.ActivationBlock(packed.Type) == 256 ? blocks256 : blocks32;
            var panel = panels[s];
            // Decoding several sequences: runs of weight rows that stay in L1 while every tile of activation rows
            // (all in L2) passes them — a chunk is up to a megabyte of weights, which each tile re-read from memory.
            // A prefill's activations are the larger stream, so its tiles stay outermost over the chunk's 64 rows.
            bool runs = rows > QuantizedDots.TileRows && (long)rows * k <= QuantizedRunActivationBytes;
            int run = runs ? (int)Math.Max(QuantizedPanels.Width, QuantizedRunBytes / packed.RowBytes) & ~(QuantizedPanels.Width - 1) : n1 - n0;
            for (int r0 = n0; r0 < n1; r0 += run)
                for (int m0 = 0; m0 < rows; m0 += QuantizedDots.TileRows)
                {
                    int tile = Math.Min(QuantizedDots.TileRows, rows - m0), r1 = Math.Min(n1, r0 + run);
                    if (panel is not null) panel.Multiply(r0, r1, activations, m0, tile, yc + (long)m0 * ldy, ldy, accumulate);
                    else QuantizedDots.Rows<TBytes>(packed, r0, r1, activations, m0, tile, yc + (long)m0 * ldy, ldy, accumulate);
                }
        }
        else
        {
            var packed = segment.Packed;
            float* scratch = widened.Floats(worker);
            for (int w0 = n0; w0 < n1; w0 += WidenRows)
            {
                int count = Math.Min(WidenRows, n1 - w0);
                packed.DequantizeRows(w0, count, new Span<float>(scratch, count * k));
                DotProducts.Block<TVec>(x, ldx, rows, scratch, k, 0, count, yc + w0, ldy, k, accumulate);
            }
        }
        if (segment.Bias != null)
            for (int m = 0; m < rows; m++)
                for (int n = n0; n < n1; n++) yc[(long)m * ldy + n] += segment.Bias[n];
    }
}

/// <summary>Quantizes the rows of X to 8-bit blocks for the integer kernels, rows in parallel.</summary>
sealed unsafe class QuantizeActivationsJob : RowJob
{
    QuantizedActivations? target;
    float* x;
    int ldx;

    public void Run(CpuWorkers workers, QuantizedActivations activations, float* input, int rows, int columns, int stride, int blockSize)
    {
        activations.Prepare(rows, columns, blockSize);
        target = activations;
        x = input;
        ldx = stride;
        RunRows(workers, rows);
    }

    protected override void Row(int row) => target!.QuantizeRow(row, x + (long)row * ldx);
}

/// <summary>
/// Products of a packed weight (a GGUF file's blocks) in the libtorch forward that MLA and MoE models run — their
/// attention and routing are libtorch's — on the CPU kernels: the stored blocks are multiplied as <see cref="CpuInference"/>
/// multiplies them (repacked panels where the CPU has AVX-VNNI), instead of the whole matrix being dequantized to a
/// float copy on every call, which made a MoE file's decode step cost a dequantization of every active expert. Used
/// where the kernels run, no gradient is wanted and X is float32 on the CPU; <see cref="Dequantized"/> turns it off on
/// the calling thread, for the reference forward the kernels are tested against.
/// </summary>
static unsafe class PackedProducts
{
    [ThreadStatic] static LinearJob? job;
    [ThreadStatic] static int dequantizedScopes;

    /// <summary>Whether a product with <paramref name="x"/> takes the kernels here.</summary>
    public static bool Applies(Tensor x) => dequantizedScopes == 0 && SimdKernels.Active != SimdWidth.None && !torch.is_grad_enabled()
        && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;

    /// <summary>X [..., Columns] · Wᵀ (+ bias) as a new float32 tensor [..., Rows].</summary>
    public static Tensor Multiply(PackedMatrix weight, Tensor x, Tensor? bias)
    {
        if (x.shape[^1] != weight.Columns) throw new ArgumentException($"input has {x.shape[^1]} features, the weight {weight.Columns}");
        long rows = x.NumberOfElements / weight.Columns;
        var output = torch.empty([.. x.shape[..^1], weight.Rows]);
        if (rows == 0) return output;
        if (rows > int.MaxValue) throw new ArgumentException("too many rows for the CPU kernels");
        using var input = x.reshape(rows, weight.Columns).contiguous();
        using var biasValues = bias?.to(ScalarType.Float32).contiguous();
        float* biasAddress = biasValues is null ? null : TensorMemory.Floats(biasValues);
        (job ??= new LinearJob()).Run(CpuWorkers.Shared(torch.get_num_threads()), SimdKernels.Active, TensorMemory.Floats(input), (int)rows,
            weight.Columns, weight.Columns, TensorMemory.Floats(output), weight.Rows, false, [new LinearSegment(null, weight, biasAddress, weight.Rows, 0)]);
        return output;
    }

    /// <summary>Until disposed, products on this thread dequantize the weight and run in libtorch (the reference).</summary>
    public static IDisposable Dequantized()
    {
        dequantizedScopes++;
        return new Scope();
    }

    sealed class Scope : IDisposable
    {
        bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            dequantizedScopes--;
        }
    }
}
