using System.Text;

namespace R1Sharp.Gguf;

/// <summary>
/// Writes a GGUF v3 file (little-endian): header, metadata in the order added, tensor infos, then the tensor data,
/// each tensor starting at a multiple of the alignment with zero padding between. Tensor bytes are produced one
/// tensor at a time while writing, so a large model is never held twice in memory.
/// </summary>
public sealed class GgufWriter
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    public const uint Version = 3;
    public const int DefaultAlignment = 32;
    /// <summary>llama.cpp's limits (GGML_MAX_DIMS, GGML_MAX_NAME - 1).</summary>
    public const int MaxDims = 4, MaxTensorNameBytes = 63;

    readonly List<(string Key, GgufValue Value)> metadata = [];
    readonly List<PendingTensor> tensors = [];
    readonly int alignment;

    sealed record PendingTensor(string Name, long[] Dims, GgmlType Type, long ByteSize, Func<byte[]> Data);

    /// <summary>Starts a file; <c>general.alignment</c> is written first so readers find the alignment.</summary>
    public GgufWriter(int alignment = DefaultAlignment)
    {
        if (alignment <= 0 || alignment % 8 != 0) throw new R1Error($"GGUF alignment must be a positive multiple of 8, got {alignment}");
        this.alignment = alignment;
    }

    public void Add(string key, GgufValue value)
    {
        if (key.Length == 0 || Encoding.UTF8.GetByteCount(key) > ushort.MaxValue) throw new R1Error($"GGUF key '{key}' is empty or too long");
        if (key == "general.alignment") throw new R1Error("general.alignment is set by the writer's alignment");
        if (metadata.Any(m => m.Key == key)) throw new R1Error($"GGUF key '{key}' added twice");
        if (value.IsArray && value.Value is not Array) throw new R1Error($"GGUF key '{key}': array value must hold an Array");
        metadata.Add((key, value));
    }

    /// <summary>
    /// Adds a tensor of PyTorch shape <paramref name="shape"/>; <paramref name="data"/> returns its bytes
    /// (row-major, little-endian, in <paramref name="type"/>) when the file is written.
    /// </summary>
    public void AddTensor(string name, long[] shape, GgmlType type, Func<byte[]> data)
    {
        if (name.Length == 0 || Encoding.UTF8.GetByteCount(name) > MaxTensorNameBytes) throw new R1Error($"GGUF tensor name '{name}' is empty or longer than {MaxTensorNameBytes} bytes");
        if (tensors.Any(t => t.Name == name)) throw new R1Error($"GGUF tensor '{name}' added twice");
        if (shape.Length is < 1 or > MaxDims || shape.Any(d => d <= 0)) throw new R1Error($"GGUF tensor '{name}': shape [{string.Join(", ", shape)}] must have 1 to {MaxDims} positive dims");
        long[] dims = shape.Reverse().ToArray();
        long size = GgmlTypes.ByteSize(type, dims) ?? throw new R1Error($"GGUF tensor '{name}': shape [{string.Join(", ", shape)}] does not fit type {type}");
        tensors.Add(new PendingTensor(name, dims, type, size, data));
    }

    /// <summary>Writes the file to a temp name beside <paramref name="path"/>, then renames it.</summary>
    public void Write(string path) => AtomicFile.Write(path, temp =>
    {
        using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)(metadata.Count + 1));
        WriteString(w, "general.alignment");
        w.Write((uint)GgufValueType.UInt32);
        w.Write((uint)alignment);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            w.Write((uint)value.Type);
            WriteValue(w, value.Type, value.Value, value.ElementType);
        }

        long offset = 0;
        foreach (var t in tensors)
        {
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.ByteSize);
        }
        Pad(w);

        long dataStart = stream.Position;
        foreach (var t in tensors)
        {
            byte[] bytes = t.Data();
            if (bytes.Length != t.ByteSize) throw new InvalidOperationException($"tensor '{t.Name}' produced {bytes.Length} bytes, expected {t.ByteSize}");
            w.Write(bytes);
            Pad(w, dataStart);
        }
    });

    long Align(long n) => (n + alignment - 1) / alignment * alignment;

    void Pad(BinaryWriter w, long from = 0)
    {
        long pos = w.BaseStream.Position - from;
        for (long i = pos; i < Align(pos); i++) w.Write((byte)0);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, GgufValueType type, object value, GgufValueType elementType)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(value)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(value)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(value)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(value)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(value)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(value)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(value)); break;
            case GgufValueType.Bool: w.Write((byte)((bool)value ? 1 : 0)); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(value)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(value)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(value)); break;
            case GgufValueType.Array:
                var array = (Array)value;
                w.Write((uint)elementType);
                w.Write((ulong)array.Length);
                foreach (object element in array)
                {
                    if (element is GgufValue nested) WriteValue(w, nested.Type, nested.Value, nested.ElementType);
                    else WriteValue(w, elementType, element, GgufValueType.UInt8);
                }
                break;
            default: throw new R1Error($"unknown GGUF value type {(uint)type}");
        }
    }
}
