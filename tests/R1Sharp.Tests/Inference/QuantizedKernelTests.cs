using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Quantization;
using R1Sharp.Reference;
using R1Sharp.Tests.Quantization;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Inference;

/// <summary>
/// The integer kernels against their scalar references: activation blocks byte for byte, dot products with exact
/// integer sums (floats may differ only by summation order: relative tolerance 1e-5 of Σ|w·x|), and the linear job
/// on packed weights against float32 products of the dequantized weights.
/// </summary>
public unsafe class QuantizedKernelTests
{
    public static readonly GgmlType[] KernelTypes =
        [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static IEnumerable<object[]> TypesAndWidths() =>
        from type in KernelTypes from width in SimdWidths.All select new object[] { type.ToString(), width };

    static float[] Activations(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * columns];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1) * (i % 97 == 0 ? 8 : 1);
        // A zero block and a block of one repeated value, where rounding and signs are decided by ties.
        for (int i = 0; i < Math.Min(256, columns); i++) x[i] = 0;
        if (columns >= 512) for (int i = 256; i < 512; i++) x[i] = -0.75f;
        return x;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(256)]
    public void Activation_blocks_equal_the_scalar_reference_byte_for_byte(int blockSize)
    {
        const int rows = 5, columns = 1024;
        float[] x = Activations(rows, columns, 9);
        var fast = new QuantizedActivations();
        var slow = new QuantizedActivations();
        fast.Prepare(rows, columns, blockSize);
        slow.Prepare(rows, columns, blockSize);
        fixed (float* px = x)
            for (int r = 0; r < rows; r++)
            {
                fast.QuantizeRow(r, px + r * columns);
                slow.ReferenceRow(r, px + r * columns);
                Assert.True(new Span<sbyte>(fast.Q(r), columns).SequenceEqual(new Span<sbyte>(slow.Q(r), columns)), $"row {r} bytes differ");
                Assert.True(new Span<float>(fast.Scales(r), columns / blockSize).SequenceEqual(new Span<float>(slow.Scales(r), columns / blockSize)));
                Assert.True(new Span<int>(fast.Sums(r), columns / 16).SequenceEqual(new Span<int>(slow.Sums(r), columns / 16)));
                if (blockSize == 32)
                    Assert.True(new Span<float>(fast.BlockSums(r), columns / 32).SequenceEqual(new Span<float>(slow.BlockSums(r), columns / 32)));
            }
        // Q8_1 activations (for Q5_1 weights) are llama.cpp's own blocks: d and s = d·Σq as halves, s from the unrounded d.
        if (blockSize == 32)
        {
            var theirs = GgmlQuantsReference.QuantizeRow(GgmlType.Q8_1, x.AsSpan(columns, columns).ToArray());
            for (int b = 0; b < columns / 32; b++)
            {
                var block = theirs.AsSpan(b * 36, 36);
                Assert.Equal((float)BitConverter.ToHalf(block), fast.Scales(1)[b]);
                Assert.Equal((float)BitConverter.ToHalf(block[2..]), fast.BlockSums(1)[b]);
                Assert.True(block[4..].SequenceEqual(MemoryMarshal.AsBytes(new Span<sbyte>(fast.Q(1) + 32 * b, 32))), $"Q8_1 block {b} differs from ggml's");
            }
        }
        // Q8_K activations are llama.cpp's own blocks.
        if (blockSize == 256)
        {
            var ours = new byte[KQuants.Q8_KBytes * columns / 256];
            KQuants.QuantizeQ8_K(x.AsSpan(0, columns), ours);
            for (int b = 0; b < columns / 256; b++)
            {
                Assert.Equal(BitConverter.ToSingle(ours, b * KQuants.Q8_KBytes), fast.Scales(0)[b]);
                Assert.True(ours.AsSpan(b * KQuants.Q8_KBytes + 4, 256).SequenceEqual(MemoryMarshal.AsBytes(new Span<sbyte>(fast.Q(0) + 256 * b, 256))));
            }
        }
    }

    [Fact]
    public void The_kernels_word_unpacking_of_k_quant_scales_equals_the_per_sub_block_one_for_any_bytes()
    {
        var random = new Random(7);
        var packed = new byte[12];
        for (int trial = 0; trial < 20000; trial++)
        {
            random.NextBytes(packed);
            if (trial == 0) Array.Fill(packed, (byte)0xFF);
            fixed (byte* p = packed)
            {
                var (scales, mins) = KQuants.ScalesMins(p);
                for (int j = 0; j < 8; j++)
                {
                    var (scale, min) = KQuants.ScaleMin(packed, j);
                    Assert.Equal(scale, (int)(byte)(scales >> 8 * j));
                    Assert.Equal(min, (int)(byte)(mins >> 8 * j));
                }
            }
        }
    }

    [Fact]
    public void The_kernels_half_conversion_equals_the_librarys_for_every_finite_half()
    {
        // TwoHalves reads four halves (a K-block's d, dmin and the next bytes): room for them.
        ushort* stored = stackalloc ushort[4];
        for (int bits = 0; bits < 0x10000; bits++)
        {
            var half = BitConverter.UInt16BitsToHalf((ushort)bits);
            stored[0] = (ushort)bits;
            // Half (K-quants, subnormal-safe), NormalHalf (the 32-blocks) and the K-kernels' two-at-once conversion.
            float[] converted = [QuantizedDots.Half((byte*)stored), QuantizedDots.NormalHalf((byte*)stored), QuantizedDots.TwoHalves((byte*)stored).ToScalar()];
            foreach (float value in converted)
                if (Half.IsFinite(half)) Assert.Equal(BitConverter.SingleToInt32Bits((float)half), BitConverter.SingleToInt32Bits(value));
                else Assert.True(float.IsFinite(value), $"0x{bits:X4} gave {value}");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TypesAndWidths))]
    public void Dot_products_equal_the_scalar_reference(string typeName, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        var type = Enum.Parse<GgmlType>(typeName);
        // An odd number of 32-blocks, so the 512-bit kernels' last unpaired block is tested.
        int columns = QuantizedDots.ActivationBlock(type) == 32 ? 800 : 768;
        const int weightRows = 6, xRows = 4;
        byte[] weights = GgmlQuants.Quantize(type, BlockFormatTests.TestWeights(weightRows, columns));
        float[] x = Activations(xRows, columns, 4);
        var activations = new QuantizedActivations();
        activations.Prepare(xRows, columns, QuantizedDots.ActivationBlock(type));
        long rowBytes = GgmlQuants.RowBytes(type, columns);
        var dequantized = new float[columns];
        fixed (float* px = x)
        fixed (byte* pw = weights)
        {
            for (int r = 0; r < xRows; r++) activations.QuantizeRow(r, px + r * columns);
            var matrix = new PackedMatrix(type, weightRows, columns, pw, weights);
            for (int tile = 1; tile <= QuantizedDots.TileRows; tile++)
            {
                // Every weight row in one call (the kernels' row loop), outputs at y[r·weightRows + n].
                var y = new float[tile * weightRows];
                fixed (float* py = y)
                {
                    if (width == SimdWidth.Bits128) QuantizedDots.Rows<Vector128<byte>>(matrix, 0, weightRows, activations, xRows - tile, tile, py, weightRows, add: false);
                    else if (width == SimdWidth.Bits256) QuantizedDots.Rows<Vector256<byte>>(matrix, 0, weightRows, activations, xRows - tile, tile, py, weightRows, add: false);
                    else QuantizedDots.Rows<Vector512<byte>>(matrix, 0, weightRows, activations, xRows - tile, tile, py, weightRows, add: false);
                }
                for (int n = 0; n < weightRows; n++)
                {
                    byte* w = pw + n * rowBytes;
                    GgmlQuants.Dequantize(type, new ReadOnlySpan<byte>(w, (int)rowBytes), dequantized);
                    for (int r = 0; r < tile; r++)
                    {
                        int row = xRows - tile + r;
                        float expected = QuantizedDots.Reference(type, w, activations, row);
                        double magnitude = 0;
                        for (int j = 0; j < columns; j++) magnitude += Math.Abs(dequantized[j] * activations.Q(row)[j] * activations.Scales(row)[j / activations.BlockSize]);
                        Assert.True(Math.Abs(y[r * weightRows + n] - expected) <= 1e-5 * magnitude + 1e-30,
                            $"{type} at {width}: weight row {n}, x row {row} (tile {tile}): {y[r * weightRows + n]} vs reference {expected} (Σ|w·x| {magnitude})");
                        // The reference is the dot product of the dequantized weights and activations — for Q5_1, with
                        // each block's min multiplying the activations' Q8_1 sum s (rounded to a half) instead of d·Σq.
                        double direct = 0;
                        for (int j = 0; j < columns; j++) direct += (double)dequantized[j] * activations.Q(row)[j] * activations.Scales(row)[j / activations.BlockSize];
                        if (type == GgmlType.Q5_1)
                            for (int b = 0; b < columns / 32; b++)
                            {
                                int sum = 0;
                                for (int j = 0; j < 32; j++) sum += activations.Q(row)[32 * b + j];
                                float min = (float)BitConverter.ToHalf(new ReadOnlySpan<byte>(w + b * LegacyQuants.Q5_1Bytes + 2, 2));
                                direct += (double)min * (activations.BlockSums(row)[b] - (double)activations.Scales(row)[b] * sum);
                            }
                        Assert.True(Math.Abs(expected - direct) <= 1e-5 * magnitude + 1e-30, $"{type}: reference {expected} vs dequantized dot {direct}");
                    }
                }
            }
        }
    }

    public static IEnumerable<object[]> PanelTypes() => new[] { "Q4_K", "Q5_K", "Q6_K", "Q8_0" }.Select(t => new object[] { t });

    /// <summary>
    /// The repacked panels (AVX-VNNI) against the scalar reference on the stored rows: a row count that leaves a partial
    /// last panel, several K-blocks, tiles of 1–4 activation rows, a run that starts at a later panel, and accumulation.
    /// Weights include tiny ones, whose half-precision block scales are subnormal (repacking widens them to floats).
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(PanelTypes))]
    public void Panel_products_equal_the_scalar_reference(string typeName)
    {
        var type = Enum.Parse<GgmlType>(typeName);
        Skip.IfNot(QuantizedPanels.Supports(type), "this CPU has no AVX-VNNI, so no panel kernels");
        int columns = QuantizedDots.ActivationBlock(type) == 32 ? 160 : 768;
        const int weightRows = 29, xRows = 5;
        float[] values = BlockFormatTests.TestWeights(weightRows, columns);
        for (int i = 0; i < columns; i++) values[3 * columns + i] *= 1e-4f;
        byte[] weights = GgmlQuants.Quantize(type, values);
        float[] x = Activations(xRows, columns, 4);
        var activations = new QuantizedActivations();
        activations.Prepare(xRows, columns, QuantizedDots.ActivationBlock(type));
        long rowBytes = GgmlQuants.RowBytes(type, columns);
        fixed (float* px = x)
        fixed (byte* pw = weights)
        {
            for (int r = 0; r < xRows; r++) activations.QuantizeRow(r, px + r * columns);
            var panels = QuantizedPanels.For(new PackedMatrix(type, weightRows, columns, pw, weights), CpuWorkers.Shared(2));
            Assert.Equal(4, panels.Panels);
            foreach (int first in new[] { 0, QuantizedPanels.Width })
                for (int tile = 1; tile <= 4; tile++)
                    foreach (bool add in new[] { false, true })
                    {
                        var y = new float[tile * weightRows];
                        Array.Fill(y, add ? 0.5f : float.NaN);
                        fixed (float* py = y) panels.Multiply(first, weightRows, activations, xRows - tile, tile, py, weightRows, add);
                        for (int r = 0; r < tile; r++)
                            for (int n = 0; n < weightRows; n++)
                            {
                                int row = xRows - tile + r;
                                float at = y[r * weightRows + n];
                                if (n < first)
                                {
                                    Assert.True(add ? at == 0.5f : float.IsNaN(at), $"{type}: output {n} before the run was written");
                                    continue;
                                }
                                float expected = QuantizedDots.Reference(type, pw + n * rowBytes, activations, row) + (add ? 0.5f : 0);
                                var dequantized = new float[columns];
                                GgmlQuants.Dequantize(type, new ReadOnlySpan<byte>(pw + n * rowBytes, (int)rowBytes), dequantized);
                                double magnitude = add ? 0.5 : 0;
                                for (int j = 0; j < columns; j++) magnitude += Math.Abs(dequantized[j] * activations.Q(row)[j] * activations.Scales(row)[j / activations.BlockSize]);
                                Assert.True(Math.Abs(at - expected) <= 1e-5 * magnitude,
                                    $"{type}: weight row {n}, x row {row} (tile {tile}, add {add}): {at} vs reference {expected}");
                            }
                    }
        }
    }

    public static IEnumerable<object[]> PackedShapes() => SimdWidths.Times(
        from type in new[] { "Q8_0", "Q4_K", "Q5_K", "Q6_K", "Q5_0", "Q5_1", "F16", "BF16" }
        from shape in new (int M, int K)[] { (1, 512), (6, 512), (21, 512), (6, 8192) }
        select new object[] { type, shape.M, shape.K });

    /// <summary>
    /// The linear job on packed rows (with a row order, a bias and accumulation) against libtorch on the dequantized
    /// weights. At K = 8192 with several rows of X the integer kernels take the chunk's weight rows a few at a time.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(PackedShapes))]
    public void Linear_job_on_packed_weights_matches_the_dequantized_product(string typeName, int m, int k, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        var type = Enum.Parse<GgmlType>(typeName);
        const int n = 70;
        byte[] bytes = GgmlQuants.Quantize(type, BlockFormatTests.TestWeights(n, k, seed: 11));
        var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        try
        {
            var order = Enumerable.Range(0, n).Reverse().ToArray();
            var packed = new PackedMatrix(type, n, k, (byte*)handle.AddrOfPinnedObject(), bytes).Reordered(order);
            using var dense = packed.ToTensor();
            var g = new Generator(3);
            using var x = randn([m, k], generator: g);
            using var bias = randn([n], generator: g);
            using var residual = randn([m, n], generator: g);
            using var expected = residual + nn.functional.linear(x, dense, bias);
            using var y = residual.clone();
            new LinearJob().Run(CpuWorkers.Shared(2), width, TensorMemory.Floats(x), m, k, k, TensorMemory.Floats(y), n, addToOutput: true,
                [new LinearSegment(null, packed, TensorMemory.Floats(bias), n, 0)]);
            // Float weights: float32 rounding. Integer kernels: the activations' 8-bit rounding (≈ 0.4% of each block's max).
            double tolerance = QuantizedDots.Supports(type) ? 0.03 : 1e-3;
            double scale = expected.abs().max().item<float>();
            double error = (y - expected).abs().max().item<float>();
            Assert.True(error <= tolerance * scale, $"{type}, m = {m}, k = {k}, {width}: max error {error} (scale {scale})");
        }
        finally
        {
            handle.Free();
        }
    }
}
