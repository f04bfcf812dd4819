using System.Buffers.Binary;
using System.Text;
using R1Sharp.Gguf;

namespace R1Sharp.Tests.Gguf;

public class GgufReaderTests
{
    static readonly float[] Matrix = Enumerable.Range(0, 15).Select(i => i * 0.5f - 3).ToArray();
    static readonly Half[] Vector = Enumerable.Range(0, 7).Select(i => (Half)(i * 0.25)).ToArray();

    /// <summary>A small file with every value type, an array of strings, a nested array and three tensors.</summary>
    static string WriteSample(TempDir dir, int alignment = 32)
    {
        var w = new GgufWriter(alignment);
        w.Add("general.architecture", GgufValue.String("llama"));
        w.Add("test.u8", new GgufValue(GgufValueType.UInt8, (byte)200));
        w.Add("test.i8", new GgufValue(GgufValueType.Int8, (sbyte)-100));
        w.Add("test.u16", new GgufValue(GgufValueType.UInt16, (ushort)60000));
        w.Add("test.i16", new GgufValue(GgufValueType.Int16, (short)-30000));
        w.Add("test.u32", GgufValue.U32(4_000_000_000));
        w.Add("test.i32", GgufValue.I32(-2_000_000_000));
        w.Add("test.f32", GgufValue.F32(1.5e-6f));
        w.Add("test.bool", GgufValue.Bool(true));
        w.Add("test.string", GgufValue.String("héllo ｜ world"));
        w.Add("test.u64", GgufValue.U64(ulong.MaxValue));
        w.Add("test.i64", new GgufValue(GgufValueType.Int64, long.MinValue));
        w.Add("test.f64", new GgufValue(GgufValueType.Float64, Math.PI));
        w.Add("test.strings", GgufValue.Strings(["a", "", "Ġthe"]));
        w.Add("test.ints", GgufValue.Int32s([1, -2, 3]));
        w.Add("test.nested", new GgufValue(GgufValueType.Array, new[] { GgufValue.Int32s([1, 2]), GgufValue.Int32s([]) }, GgufValueType.Array));
        w.AddTensor("matrix", [3, 5], GgmlType.F32, () => ToBytes(Matrix));
        w.AddTensor("vector", [7], GgmlType.F16, () => ToBytes(Vector));
        w.AddTensor("cube", [2, 2, 2], GgmlType.I32, () => new byte[32]);
        string path = dir.File("sample.gguf");
        w.Write(path);
        return path;
    }

    static byte[] ToBytes<T>(T[] values) where T : struct => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    [Fact]
    public void WrittenFileReadsBackValuesTensorsAndLayout()
    {
        using var dir = new TempDir();
        var file = GgufReader.Read(WriteSample(dir));

        Assert.Equal(3u, file.Version);
        Assert.Equal(32, file.Alignment);
        Assert.Equal("general.alignment", file.Metadata[0].Key);
        Assert.Equal("llama", file.Architecture);
        Assert.Equal((byte)200, file.Get("test.u8").Value);
        Assert.Equal((sbyte)-100, file.Get("test.i8").Value);
        Assert.Equal((ushort)60000, file.Get("test.u16").Value);
        Assert.Equal((short)-30000, file.Get("test.i16").Value);
        Assert.Equal(4_000_000_000u, file.Get("test.u32").Value);
        Assert.Equal(-2_000_000_000, file.Get("test.i32").Value);
        Assert.Equal(1.5e-6f, file.Get("test.f32").Value);
        Assert.Equal(true, file.Get("test.bool").Value);
        Assert.Equal("héllo ｜ world", file.Get("test.string").AsString());
        Assert.Equal(ulong.MaxValue, file.Get("test.u64").Value);
        Assert.Equal(long.MinValue, file.Get("test.i64").Value);
        Assert.Equal(Math.PI, file.Get("test.f64").Value);
        Assert.Equal(new[] { "a", "", "Ġthe" }, file.Get("test.strings").Value);
        Assert.Equal(GgufValueType.String, file.Get("test.strings").ElementType);
        Assert.Equal(new[] { 1, -2, 3 }, file.Get("test.ints").Value);
        var nested = (GgufValue[])file.Get("test.nested").Value;
        Assert.Equal(new[] { 1, 2 }, nested[0].Value);
        Assert.Empty((int[])nested[1].Value);

        var matrix = file.Tensor("matrix");
        Assert.Equal(new long[] { 5, 3 }, matrix.Dims); // GGUF dims are the PyTorch shape reversed
        Assert.Equal(new long[] { 3, 5 }, matrix.Shape);
        Assert.Equal(Matrix, file.ReadTensorFloats(matrix));
        Assert.Equal(Vector.Select(h => (float)h), file.ReadTensorFloats(file.Tensor("vector")));
        Assert.Equal(new long[] { 2, 2, 2 }, file.Tensor("cube").Dims);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 32));
        Assert.Equal(0, file.DataOffset % 32);
        // Tensors follow one another, each padded to the alignment, and the file ends with the last one's padding.
        Assert.Equal(new long[] { 0, 64, 96 }, file.Tensors.Select(t => t.Offset));
        Assert.Equal(file.DataOffset + 128, file.FileLength);
    }

    [Fact]
    public void CustomAlignmentIsWrittenAndHonoured()
    {
        using var dir = new TempDir();
        var file = GgufReader.Read(WriteSample(dir, alignment: 64));
        Assert.Equal(64u, file.Get("general.alignment").Value);
        Assert.Equal(64, file.Alignment);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % 64));
        Assert.Equal(0, file.DataOffset % 64);
    }

    [Fact]
    public void WriterRejectsBadInput()
    {
        var w = new GgufWriter();
        w.Add("a.b", GgufValue.U32(1));
        Assert.Contains("twice", Assert.Throws<R1Error>(() => w.Add("a.b", GgufValue.U32(2))).Message);
        Assert.Contains("does not fit", Assert.Throws<R1Error>(() => w.AddTensor("q", [4, 33], GgmlType.Q8_0, () => [])).Message);
        Assert.Contains("longer than", Assert.Throws<R1Error>(() => w.AddTensor(new string('x', 64), [1], GgmlType.F32, () => [])).Message);
        Assert.Throws<R1Error>(() => new GgufWriter(alignment: 12));
    }

    [Fact]
    public void BadMagicIsNamed()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, 0, "GGML"u8.ToArray());
        Assert.Contains("not a GGUF file", ReadError(path));
    }

    [Fact]
    public void UnsupportedVersionIsNamed()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, 4, U32(7));
        Assert.Contains("version 7", ReadError(path));
    }

    [Fact]
    public void EveryTruncationIsAnR1Error()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        byte[] full = File.ReadAllBytes(path);
        var file = GgufReader.Read(path);
        long dataEnd = file.DataOffset + file.Tensors.Max(t => t.Offset + t.ByteSize);
        string cut = dir.File("cut.gguf");
        for (int n = 0; n < dataEnd; n++)
        {
            File.WriteAllBytes(cut, full[..n]);
            var e = Assert.Throws<R1Error>(() => GgufReader.Read(cut));
            Assert.True(e.Message.Contains("truncated") || e.Message.Contains("past the end") || e.Message.Contains("cannot fit") || e.Message.Contains("remain"),
                $"cut at {n}: {e.Message}");
        }
    }

    [Fact]
    public void HugeStringLengthIsRejectedWithoutAllocating()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, 24, U64(1UL << 40)); // length of the first key
        Assert.Contains("string length 1099511627776", ReadError(path));
    }

    [Fact]
    public void HugeArrayCountIsRejected()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        // key "test.strings", then u32 type (array), u32 element type, u64 count.
        int countAt = IndexAfter(path, "test.strings") + 8;
        Patch(path, countAt, U64(1UL << 50));
        Assert.Contains("claims 1125899906842624 elements", ReadError(path));
    }

    [Fact]
    public void HugeCountsAreRejected()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, 8, U64(1UL << 60));
        Assert.Contains("tensor count", ReadError(path));
        path = WriteSample(dir);
        Patch(path, 16, U64(1UL << 60));
        Assert.Contains("metadata count", ReadError(path));
    }

    [Fact]
    public void TensorOffsetPastTheEndIsNamed()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, TensorOffsetField(path, "cube", dims: 3), U64(1 << 20));
        string message = ReadError(path);
        Assert.Contains("'cube'", message);
        Assert.Contains("past the end", message);
    }

    [Fact]
    public void UnalignedAndOverlappingOffsetsAreNamed()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, TensorOffsetField(path, "vector", dims: 1), U64(65));
        Assert.Contains("not a multiple of the alignment", ReadError(path));

        path = WriteSample(dir);
        Patch(path, TensorOffsetField(path, "vector", dims: 1), U64(32)); // inside "matrix" (60 bytes at 0)
        Assert.Contains("overlap", ReadError(path));
    }

    [Fact]
    public void UnknownTypesAreNamed()
    {
        using var dir = new TempDir();
        string path = WriteSample(dir);
        Patch(path, TensorOffsetField(path, "cube", dims: 3) - 4, U32(4)); // ggml type 4 was retired
        Assert.Contains("unknown ggml type 4", ReadError(path));

        path = WriteSample(dir);
        Patch(path, IndexAfter(path, "test.u32"), U32(13));
        Assert.Contains("unknown value type 13", ReadError(path));
    }

    [Fact]
    public void RandomCorruptionGivesR1ErrorOrAValidFile()
    {
        using var dir = new TempDir();
        byte[] original = File.ReadAllBytes(WriteSample(dir));
        string path = dir.File("fuzz.gguf");
        var random = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            byte[] bytes = (byte[])original.Clone();
            for (int k = 0; k < 1 + trial % 4; k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(path, bytes);
            try
            {
                GgufReader.Read(path);
            }
            catch (R1Error)
            {
            }
        }
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        using var dir = new TempDir();
        Assert.Contains("file not found", Assert.Throws<R1Error>(() => GgufReader.Read(dir.File("missing/x.gguf"))).Message);
    }

    static string ReadError(string path) => Assert.Throws<R1Error>(() => GgufReader.Read(path)).Message;

    static void Patch(string path, long at, byte[] bytes)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
        f.Seek(at, SeekOrigin.Begin);
        f.Write(bytes);
    }

    static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    /// <summary>Position just after the first occurrence of a name's bytes in the file.</summary>
    static int IndexAfter(string path, string name)
    {
        byte[] bytes = File.ReadAllBytes(path), needle = Encoding.UTF8.GetBytes(name);
        int at = bytes.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, name);
        return at + needle.Length;
    }

    /// <summary>A tensor info is name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset.</summary>
    static int TensorOffsetField(string path, string name, int dims) => IndexAfter(path, name) + 4 + 8 * dims + 4;
}
