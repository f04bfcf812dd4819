using System.Buffers.Binary;

namespace R1Sharp.Gguf;

/// <summary>
/// The header of a GGUF file as <see cref="GgufReader"/> validated it: metadata in file order, tensor infos, and
/// where the data section starts. Tensor data is read on demand.
/// </summary>
public sealed class GgufFile
{
    public required string Path { get; init; }
    public required uint Version { get; init; }
    public required int Alignment { get; init; }
    public required IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; init; }
    public required IReadOnlyList<GgufTensorInfo> Tensors { get; init; }
    /// <summary>Absolute file offset of the data section; tensor offsets count from here.</summary>
    public required long DataOffset { get; init; }
    public required long FileLength { get; init; }

    public GgufValue? Find(string key) => Metadata.FirstOrDefault(m => m.Key == key).Value;

    public GgufValue Get(string key) => Find(key) ?? throw new R1Error($"{Path}: metadata key '{key}' not found");

    public string? Architecture => Find("general.architecture")?.Value as string;

    public GgufTensorInfo Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new R1Error($"{Path}: tensor '{UntrustedText.Printable(name)}' not found");

    public byte[] ReadTensorBytes(GgufTensorInfo tensor)
    {
        if (tensor.ByteSize > Array.MaxLength) throw new R1Error($"{Path}: tensor '{UntrustedText.Printable(tensor.Name)}' ({tensor.ByteSize} bytes) is too large to read into one array");
        var bytes = new byte[tensor.ByteSize];
        using var stream = File.OpenRead(Path);
        stream.Seek(DataOffset + tensor.Offset, SeekOrigin.Begin);
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A float tensor's values in row-major (PyTorch) order, widened to float32.</summary>
    public float[] ReadTensorFloats(GgufTensorInfo tensor)
    {
        byte[] bytes = ReadTensorBytes(tensor);
        var values = new float[tensor.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.Type switch
            {
                GgmlType.F32 => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i)),
                GgmlType.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(2 * i)),
                GgmlType.BF16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i)) << 16),
                _ => throw new R1Error($"{Path}: tensor '{UntrustedText.Printable(tensor.Name)}' is {tensor.Type}, not a float type"),
            };
        }
        return values;
    }
}
