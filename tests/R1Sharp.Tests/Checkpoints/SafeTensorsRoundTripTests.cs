using System.Buffers.Binary;
using System.Text;
using R1Sharp.Checkpoints;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

public class SafeTensorsRoundTripTests
{
    // Bit patterns a lossy path would change: NaNs with payloads and sign, infinities, signed zero, denormals, extremes.
    static readonly uint[] F32Bits =
        [0x7FC00000, 0x7F800001, 0xFFC12345, 0x7F800000, 0xFF800000, 0x00000000, 0x80000000,
         0x00000001, 0x807FFFFF, 0x00400000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xC0490FDB];
    static readonly ushort[] HalfBits =
        [0x7E00, 0x7C01, 0xFE3F, 0x7C00, 0xFC00, 0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x3C00, 0xC248];
    static readonly ushort[] BFloat16Bits =
        [0x7FC0, 0x7F81, 0xFFC1, 0x7F80, 0xFF80, 0x0000, 0x8000, 0x0001, 0x807F, 0x7F7F, 0x3F80, 0xC049];

    static byte[] LittleEndian(uint[] values) => values.SelectMany(v => { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }).ToArray();
    static byte[] LittleEndian(ushort[] values) => values.SelectMany(v => { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }).ToArray();

    public static TheoryData<string, ScalarType> FloatCases => new()
    {
        { "F32", ScalarType.Float32 },
        { "F16", ScalarType.Float16 },
        { "BF16", ScalarType.BFloat16 },
    };

    [Theory]
    [MemberData(nameof(FloatCases))]
    public void FloatTensorsRoundTripBitExactlyIncludingNanInfAndDenormals(string dtypeName, ScalarType dtype)
    {
        using var files = new CheckpointTestFiles();
        byte[] special = dtype switch
        {
            ScalarType.Float32 => LittleEndian(F32Bits),
            ScalarType.Float16 => LittleEndian(HalfBits),
            _ => LittleEndian(BFloat16Bits),
        };
        long elementSize = dtype == ScalarType.Float32 ? 4 : 2;
        using var specialTensor = CheckpointTestFiles.FromBytes(special, dtype, 2, special.Length / elementSize / 2);
        using var random = randn([3, 5, 7], generator: new TorchSharp.torch.Generator(7)).to(dtype);
        using var scalar = tensor(-0.0f).to(dtype);
        var tensors = new Dictionary<string, Tensor> { ["special"] = specialTensor, ["random"] = random, ["scalar"] = scalar };

        string path = files.PathOf("w.safetensors");
        SafeTensorsFile.Save(path, tensors);
        var loaded = SafeTensorsFile.Load(path);

        CheckpointTestFiles.AssertSameTensors(tensors, loaded);
        Assert.Equal(special, CheckpointTestFiles.BytesOf(loaded["special"]));
        Assert.Equal(dtypeName, SafeTensorsFile.ReadHeader(path).Tensors["special"].Dtype);
        // The file holds the very bytes too, not merely something that decodes alike.
        var entry = SafeTensorsFile.ReadHeader(path).Tensors["special"];
        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(special, file.AsSpan((int)(SafeTensorsFile.ReadHeader(path).DataStart + entry.Begin), special.Length).ToArray());
        CheckpointTestFiles.DisposeAll(loaded.Values);
    }

    [Fact]
    public void IntegerBoolAndDoubleTensorsRoundTripWithShapesScalarsAndEmptyTensors()
    {
        using var files = new CheckpointTestFiles();
        var tensors = new Dictionary<string, Tensor>
        {
            ["i64"] = tensor(new long[] { long.MinValue, -1, 0, long.MaxValue }).reshape(2, 2),
            ["i32"] = tensor(new[] { int.MinValue, 7, int.MaxValue }),
            ["i16"] = tensor(new short[] { short.MinValue, 3 }),
            ["i8"] = tensor(new sbyte[] { -128, 0, 127 }),
            ["u8"] = tensor(new byte[] { 0, 1, 255 }),
            ["bool"] = tensor(new[] { true, false, true }),
            ["f64"] = tensor(new[] { double.NaN, double.Epsilon, -double.MaxValue }),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 4], ScalarType.BFloat16),
        };
        string path = files.PathOf("w.safetensors");
        SafeTensorsFile.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" });

        var loaded = SafeTensorsFile.Load(path);
        CheckpointTestFiles.AssertSameTensors(tensors, loaded);
        var header = SafeTensorsFile.ReadHeader(path);
        Assert.Equal("ünïcode ✓", header.Metadata["note"]);
        Assert.Equal(["I64", "I32", "I16", "I8", "U8", "BOOL", "F64", "F32", "BF16"],
            new[] { "i64", "i32", "i16", "i8", "u8", "bool", "f64", "scalar", "empty" }.Select(n => header.Tensors[n].Dtype));
        Assert.Empty(header.Tensors["scalar"].Shape);
        CheckpointTestFiles.DisposeAll(tensors.Values.Concat(loaded.Values));
    }

    [Fact]
    public void NonContiguousTensorsAreSavedAsTheirLogicalValues()
    {
        using var files = new CheckpointTestFiles();
        using var matrix = arange(12, ScalarType.Float32).reshape(3, 4);
        using var transposed = matrix.t();
        string path = files.PathOf("t.safetensors");
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["t"] = transposed });
        var loaded = SafeTensorsFile.Load(path);
        Assert.Equal(new long[] { 4, 3 }, loaded["t"].shape);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, loaded["t"].data<float>().ToArray());
        CheckpointTestFiles.DisposeAll(loaded.Values);
    }

    /// <summary>Test vectors of the reference Rust writer (safetensors/src/tensor.rs, tests test_serialization*, test_empty).</summary>
    [Fact]
    public void WritesByteForByteWhatTheReferenceWriterWrites()
    {
        using var files = new CheckpointTestFiles();
        using var values = arange(6, ScalarType.Float32);

        string attnDot0 = files.PathOf("a.safetensors");
        SafeTensorsFile.Save(attnDot0, new Dictionary<string, Tensor> { ["attn.0"] = values.reshape(1, 2, 3) });
        byte[] expectedAttnDot0 =
        [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        Assert.Equal(expectedAttnDot0, File.ReadAllBytes(attnDot0));

        // A shorter name: the header is padded with spaces so the data starts 8-byte aligned.
        string attn0 = files.PathOf("b.safetensors");
        SafeTensorsFile.Save(attn0, new Dictionary<string, Tensor> { ["attn0"] = values.reshape(1, 1, 2, 3) });
        byte[] expectedAttn0 =
        [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ];
        Assert.Equal(expectedAttn0, File.ReadAllBytes(attn0));

        string onlyMetadata = files.PathOf("c.safetensors");
        SafeTensorsFile.Save(onlyMetadata, new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["framework"] = "pt" });
        Assert.Equal(Encoding.ASCII.GetBytes("(\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     "), File.ReadAllBytes(onlyMetadata));

        string nothing = files.PathOf("d.safetensors");
        SafeTensorsFile.Save(nothing, new Dictionary<string, Tensor>());
        Assert.Equal(Encoding.ASCII.GetBytes("\b\0\0\0\0\0\0\0{}      "), File.ReadAllBytes(nothing));
    }

    [Fact]
    public void HeaderIsHfJsonWithMetadataFirstTensorsLargestElementFirstAndSpacePadding()
    {
        using var files = new CheckpointTestFiles();
        using var b = ones([2, 3], ScalarType.Float32);
        using var a = ones([3], ScalarType.BFloat16);
        using var c = ones([2], ScalarType.Int64);
        using var d = ones([1], ScalarType.BFloat16);
        string path = files.PathOf("w.safetensors");
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["b"] = b, ["a"] = a, ["c"] = c, ["d"] = d },
            new Dictionary<string, string> { ["format"] = "pt" });

        // Parse the file by hand, as another implementation would.
        byte[] file = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
        Assert.Equal(0, headerLength % 8);
        string header = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        string json = header.TrimEnd(' ');
        Assert.Equal(
            "{\"__metadata__\":{\"format\":\"pt\"}," +
            "\"c\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}," +
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[16,40]}," +
            "\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[40,46]}," +
            "\"d\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[46,48]}}", json);
        Assert.True(header.Length - json.Length < 8);
        Assert.Equal(8 + headerLength + 48, file.Length);
        Assert.Equal(CheckpointTestFiles.BytesOf(b), file.AsSpan((int)(8 + headerLength + 16), 24).ToArray());
    }

    [Fact]
    public void SaveReplacesAnExistingFileAndLeavesNoTempFiles()
    {
        using var files = new CheckpointTestFiles();
        string path = files.PathOf("w.safetensors");
        using var first = ones(4);
        using var second = zeros(2);
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["x"] = first });
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["y"] = second });
        var loaded = SafeTensorsFile.Load(path);
        Assert.Equal(["y"], loaded.Keys);
        Assert.Equal(["w.safetensors"], Directory.GetFiles(files.Dir).Select(Path.GetFileName));
        CheckpointTestFiles.DisposeAll(loaded.Values);
    }

    [Fact]
    public void SaveRejectsTheReservedMetadataNameAndUnsupportedTypes()
    {
        using var files = new CheckpointTestFiles();
        using var x = ones(2);
        var error = Assert.Throws<R1Error>(() =>
            SafeTensorsFile.Save(files.PathOf("w.safetensors"), new Dictionary<string, Tensor> { ["__metadata__"] = x }));
        Assert.Contains("__metadata__", error.Message);
        using var complex128 = ones(2, ScalarType.ComplexFloat64);
        Assert.Throws<R1Error>(() =>
            SafeTensorsFile.Save(files.PathOf("w.safetensors"), new Dictionary<string, Tensor> { ["z"] = complex128 }));
        Assert.Empty(Directory.GetFiles(files.Dir));
    }

    [Fact]
    public void TensorsLargerThanOneChunkAreVisitedAsConsecutiveSlices()
    {
        using var values = randn([5, 7], generator: new TorchSharp.torch.Generator(3));
        byte[] whole = CheckpointTestFiles.BytesOf(values);
        foreach (long chunkBytes in new long[] { 1, 12, 13, 4 * 34, 4 * 35, 1000 })
        {
            var pieces = new List<(long Offset, byte[] Bytes)>();
            TensorBytes.ForEachChunk(values, (chunk, offset) => pieces.Add((offset, chunk.ToArray())));
            TensorBytes.ForEachChunk(values, (chunk, offset) => pieces.Add((offset, chunk.ToArray())), chunkBytes);
            var chunked = pieces.Skip(1).ToList();
            Assert.All(chunked, p => Assert.True(p.Bytes.Length <= Math.Max(4, chunkBytes)));
            Assert.Equal(chunked.Select(p => p.Offset), chunked.Select((p, i) => chunked.Take(i).Sum(q => (long)q.Bytes.Length)));
            Assert.Equal(whole, chunked.SelectMany(p => p.Bytes).ToArray());
        }

        // Writing into the chunks fills the tensor, which is how files are read.
        using var target = empty([5, 7]);
        TensorBytes.ForEachChunk(target, (chunk, offset) => whole.AsSpan((int)offset, chunk.Length).CopyTo(chunk), maxChunkBytes: 8);
        Assert.Equal(whole, CheckpointTestFiles.BytesOf(target));
    }
}
