using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

/// <summary>A temp folder per test, and helpers to build tensors and raw .safetensors files byte by byte.</summary>
sealed class CheckpointTestFiles : IDisposable
{
    readonly TempDir dir = new("r1sharp-checkpoints-");

    public string Dir => dir.Path;

    public string PathOf(string name) => Path.Combine(Dir, name);

    public void Dispose() => dir.Dispose();

    /// <summary>Writes a raw file: u64 LE length (the header's, unless overridden), the header text, then the data bytes.</summary>
    public string WriteRaw(string name, string header, int dataBytes, ulong? headerLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLength ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        for (int i = 0; i < dataBytes; i++) file[8 + json.Length + i] = (byte)i;
        string path = PathOf(name);
        File.WriteAllBytes(path, file);
        return path;
    }

    /// <summary>A tensor whose memory holds exactly these bytes.</summary>
    public static Tensor FromBytes(byte[] bytes, ScalarType dtype, params long[] shape)
    {
        var tensor = empty(shape, dtype);
        tensor.bytes = bytes;
        return tensor;
    }

    public static byte[] BytesOf(Tensor tensor) => tensor.contiguous().bytes.ToArray();

    public static void AssertSameTensors(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in expected)
        {
            Assert.Equal(tensor.dtype, actual[name].dtype);
            Assert.Equal(tensor.shape, actual[name].shape);
            Assert.Equal(BytesOf(tensor), BytesOf(actual[name]));
        }
    }

    public static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var tensor in tensors) tensor.Dispose();
    }
}
