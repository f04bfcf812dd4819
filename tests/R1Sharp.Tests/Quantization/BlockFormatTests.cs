using R1Sharp.Gguf;
using R1Sharp.Quantization;
using R1Sharp.Reference;
using Xunit.Abstractions;

namespace R1Sharp.Tests.Quantization;

/// <summary>
/// Our ggml blocks against llama.cpp's own quantizer and dequantizers (ggml-base through LLamaSharp), type by type:
/// each side dequantizes the other's blocks to the same values, and our quantization error is no larger than llama.cpp's.
/// </summary>
public class BlockFormatTests(ITestOutputHelper output)
{
    public static readonly GgmlType[] WrittenTypes =
        [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.F16, GgmlType.BF16];

    public static IEnumerable<object[]> Types() => WrittenTypes.Select(t => new object[] { t });

    /// <summary>
    /// Rows of weights with the shapes quantizers must handle: gaussian rows, heavy-tailed rows, a row with one large
    /// outlier, a zero row, a constant row, all-positive and all-negative rows and tiny values.
    /// </summary>
    internal static float[] TestWeights(int rows, int columns, int seed = 3)
    {
        var random = new Random(seed);
        var w = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            var row = w.AsSpan(r * columns, columns);
            for (int c = 0; c < columns; c++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                row[c] = (r % 8) switch
                {
                    0 => (float)(0.02 * g),
                    1 => (float)(0.05 * g * g * g), // heavy tails
                    2 => c == 7 ? 3.5f : (float)(0.01 * g), // one outlier
                    3 => 0,
                    4 => 0.125f,
                    5 => (float)Math.Abs(g),
                    6 => (float)(-Math.Abs(g) * 1e-3),
                    _ => (float)(g * 1e-6),
                };
            }
        }
        return w;
    }

    static double Rmse(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum() / a.Length);

    [Theory]
    [MemberData(nameof(Types))]
    public void BlocksMatchLlamaCppAndErrorIsNoLarger(GgmlType type)
    {
        const int rows = 16, columns = 512;
        float[] weights = TestWeights(rows, columns);
        byte[] ours = GgmlQuants.Quantize(type, weights);
        byte[] theirs = GgmlQuantsReference.Quantize(type, weights, rows);
        Assert.Equal(theirs.Length, ours.Length);

        // Each side reads the other's blocks as it reads its own.
        var oursByUs = new float[weights.Length];
        var theirsByUs = new float[weights.Length];
        GgmlQuants.Dequantize(type, ours, oursByUs);
        GgmlQuants.Dequantize(type, theirs, theirsByUs);
        float[] oursByThem = GgmlQuantsReference.Dequantize(type, ours, weights.Length);
        float[] theirsByThem = GgmlQuantsReference.Dequantize(type, theirs, weights.Length);
        AssertSameValues(oursByThem, oursByUs, type);
        AssertSameValues(theirsByThem, theirsByUs, type);

        int blockBytes = (int)GgmlTypes.ByteSize(type, [GgmlTypes.BlockSize(type)])!;
        int blocks = ours.Length / blockBytes, identical = 0;
        for (int b = 0; b < blocks; b++)
            if (ours.AsSpan(b * blockBytes, blockBytes).SequenceEqual(theirs.AsSpan(b * blockBytes, blockBytes))) identical++;
        double ourError = Rmse(weights, oursByUs), theirError = Rmse(weights, theirsByThem);
        output.WriteLine($"{type}: {identical}/{blocks} blocks identical to llama.cpp's; RMSE ours {ourError:E4}, llama.cpp {theirError:E4}");
        Assert.True(ourError <= theirError, $"{type}: our RMSE {ourError} exceeds llama.cpp's {theirError}");
        // Same algorithm, same rounding: the blocks themselves match (a rare tie may round differently under FMA contraction).
        Assert.True(identical >= 0.95 * blocks, $"{type}: only {identical} of {blocks} blocks equal llama.cpp's");
    }

    /// <summary>
    /// Dequantized values agree to one float rounding: llama.cpp's C build may fuse d·q − m into one FMA where
    /// C# rounds the product first.
    /// </summary>
    static void AssertSameValues(float[] expected, float[] actual, GgmlType type)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float tolerance = 2e-7f * Math.Max(Math.Abs(expected[i]), 1e-30f) + 1e-30f;
            if (Math.Abs(expected[i] - actual[i]) > tolerance)
                Assert.Fail($"{type}: value {i} dequantizes to {actual[i]:R} here and {expected[i]:R} in llama.cpp");
        }
    }

    [Fact]
    public void Q8KActivationBlocksMatchLlamaCpp()
    {
        float[] values = TestWeights(8, 256, seed: 5);
        var ours = new byte[8 * KQuants.Q8_KBytes];
        KQuants.QuantizeQ8_K(values, ours);
        byte[] theirs = GgmlQuantsReference.QuantizeRow(GgmlType.Q8_K, values);
        Assert.Equal(theirs, ours);
        var back = new float[values.Length];
        KQuants.DequantizeQ8_K(ours, back);
        Assert.Equal(GgmlQuantsReference.Dequantize(GgmlType.Q8_K, ours, values.Length), back);
    }

    [Fact]
    public void UnsupportedTypesAndPartialBlocksAreRefused()
    {
        Assert.Throws<R1Error>(() => GgmlQuants.Quantize(GgmlType.IQ2_XXS, new float[256]));
        Assert.Throws<ArgumentException>(() => GgmlQuants.Quantize(GgmlType.Q4_K, new float[100]));
        Assert.Throws<ArgumentException>(() => GgmlQuants.Dequantize(GgmlType.Q8_0, new byte[33], new float[32]));
    }
}
