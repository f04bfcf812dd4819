using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// Prompt products with bf16 weights (<see cref="Bf16Matrix"/>) on the CPU's bf16 matrix hardware — AMX tiles on the
/// Xeons that have them, avx512_bf16's vdpbf16ps on others — through libtorch's bf16 GEMM: oneDNN picks the
/// instructions, which .NET 10 cannot issue itself. A prompt is bound by arithmetic, not by the weights' bytes, and
/// there these units do two to four times the float32 FMAs' work per cycle. X is rounded to bfloat16 in the copy's
/// interleaved column order (a dot product does not care how both sides' columns are ordered), the products are summed
/// in float32 and rounded to bfloat16 by the GEMM, and widened into Y (plus bias, or added to it).
/// The rows go to one GEMM per weight, padded with zero rows to a multiple of <see cref="BlockRows"/>. oneDNN's sum for
/// a row runs over K in an order set by K and N, not by the number of rows (no tiny-M special cases at these sizes), so a
/// row's result does not depend on which prompts were batched with it (tests: <c>Bf16Tests</c>, on whichever CPU runs
/// them), and whether a prompt takes this path depends only on its own length. Decode steps (one row per sequence) stay on <see cref="Bf16Dots"/>: they are bound by the
/// weights' bytes, and a step's GEMM would need its batch padded to 64 rows to keep that independence.
/// </summary>
sealed unsafe class Bf16Gemm
{
    /// <summary>
    /// The fewest new tokens a sequence needs to take this path, and the multiple the GEMM's rows are padded to: the GEMM
    /// repacks the weights on every call, which needs rows to pay for (measured on Zen 5's avx512_bf16, 2 threads: 410–510
    /// GFLOP/s at 64 rows, 580–700 at 512, against about 300 for the float32-FMA kernels on the bf16 copies).
    /// </summary>
    public const int BlockRows = 64;

    /// <summary>
    /// Whether prompts take this path when the weights are bf16: on a CPU with native bf16 products
    /// (<see cref="GenerationPrecision.HasNativeBf16"/>; elsewhere libtorch's bf16 GEMM is far slower than the kernels),
    /// unless R1SHARP_BF16_GEMM=0.
    /// </summary>
    public static bool Available { get; } = GenerationPrecision.HasNativeBf16 && Environment.GetEnvironmentVariable("R1SHARP_BF16_GEMM") != "0";

    readonly RoundRowsJob round = new();
    readonly AddRowsJob add = new();
    Tensor? inputs, outputs;
    int[] rowOf = [];

    /// <summary>
    /// Y[r, Column + n] (+)= Σ_j X[r, j] · W[n, j] (+ bias) for the rows of <paramref name="sequences"/> (sequence s holds
    /// rows [s·<paramref name="rowsPerSequence"/>, (s + 1)·<paramref name="rowsPerSequence"/>)) and every segment, each a
    /// bf16 copy.
    /// </summary>
    public void Run(CpuWorkers workers, float* x, int ldx, int k, float* y, int ldy, bool accumulate, ReadOnlySpan<LinearSegment> segments,
        ReadOnlySpan<int> sequences, int rowsPerSequence)
    {
        int count = sequences.Length * rowsPerSequence, padded = (count + BlockRows - 1) / BlockRows * BlockRows;
        if (rowOf.Length < count) rowOf = new int[count];
        for (int i = 0, p = 0; i < sequences.Length; i++)
            for (int r = 0; r < rowsPerSequence; r++) rowOf[p++] = sequences[i] * rowsPerSequence + r;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var xb = Scratch(ref inputs, (long)padded * k).view(padded, k);
        round.Run(workers, x, ldx, rowOf, count, padded, k, (ushort*)TensorMemory.Address(xb));
        foreach (var segment in segments)
        {
            var copy = segment.Bf16 ?? throw new ArgumentException("the bf16 GEMM takes bf16 copies only");
            if (copy.Columns != k || copy.Rows < segment.N) throw new ArgumentException("a bf16 weight's shape does not fit the product");
            var weightT = copy.Tensor.narrow(0, 0, segment.N).t();
            var yb = Scratch(ref outputs, (long)padded * segment.N).view(padded, segment.N);
            yb.addmm_(xb, weightT, 0, 1);
            add.Run(workers, (ushort*)TensorMemory.Address(yb), segment.N, rowOf, count, y + segment.Column, ldy, segment.Bias, accumulate);
        }
    }

    /// <summary>The first <paramref name="elements"/> of a reused bfloat16 buffer, grown when too small.</summary>
    static Tensor Scratch(ref Tensor? buffer, long elements)
    {
        if (buffer is null || buffer.NumberOfElements < elements)
        {
            long size = Math.Max(elements, (buffer?.NumberOfElements ?? 0) * 3 / 2);
            buffer?.Dispose();
            buffer = empty([size], ScalarType.BFloat16, CPU).DetachFromDisposeScope();
        }
        return buffer.narrow(0, 0, elements);
    }

    /// <summary>Rows of X rounded (<see cref="Round"/>) into consecutive rows of the GEMM's input; the padding rows zeroed.</summary>
    sealed class RoundRowsJob : RowJob
    {
        float* x;
        ushort* target;
        int[] source = [];
        int ldx, k, count;

        public void Run(CpuWorkers workers, float* input, int stride, int[] sourceRows, int rows, int paddedRows, int columns, ushort* output)
        {
            x = input;
            ldx = stride;
            source = sourceRows;
            count = rows;
            k = columns;
            target = output;
            RunRows(workers, paddedRows);
        }

        protected override void Row(int row)
        {
            if (row < count) Bf16Matrix.RoundRow(x + (long)source[row] * ldx, target + (long)row * k, k);
            else new Span<ushort>(target + (long)row * k, k).Clear();
        }
    }

    /// <summary>The GEMM's bfloat16 rows widened into their rows of Y, plus bias, or added to Y.</summary>
    sealed class AddRowsJob : RowJob
    {
        ushort* source;
        float* y, bias;
        int[] target = [];
        int n, ldy;
        bool accumulate;

        public void Run(CpuWorkers workers, ushort* gemmRows, int columns, int[] targetRows, int rows, float* output, int stride, float* addBias, bool addToOutput)
        {
            source = gemmRows;
            n = columns;
            target = targetRows;
            y = output;
            ldy = stride;
            bias = addBias;
            accumulate = addToOutput;
            RunRows(workers, rows);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        protected override void Row(int row)
        {
            ushort* from = source + (long)row * n;
            float* to = y + (long)target[row] * ldy;
            int c = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; c + 16 <= n; c += 16)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Load(from + c));
                    var a = (lo << 16).AsSingle();
                    var b = (hi << 16).AsSingle();
                    if (accumulate) (a, b) = (Vector256.Load(to + c) + a, Vector256.Load(to + c + 8) + b);
                    if (bias != null) (a, b) = (a + Vector256.Load(bias + c), b + Vector256.Load(bias + c + 8));
                    a.Store(to + c);
                    b.Store(to + c + 8);
                }
            for (; c < n; c++)
            {
                float v = Bf16Dots.ToSingle(from[c]);
                if (accumulate) v = to[c] + v;
                to[c] = bias != null ? v + bias[c] : v;
            }
        }
    }
}
