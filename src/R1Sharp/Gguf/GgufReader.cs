using System.Buffers.Binary;
using System.Text;

namespace R1Sharp.Gguf;

/// <summary>
/// Reads and validates a GGUF header against the file's length before trusting any number in it: magic,
/// version, counts, string and array lengths, value and tensor types, dims, offsets (aligned, in bounds, not
/// overlapping). Nothing is allocated from a length that the remaining bytes cannot hold, so a corrupted or
/// hostile file fails with an <see cref="R1Error"/> naming the problem rather than exhausting memory.
/// </summary>
public static class GgufReader
{
    const int MaxArrayNesting = 8;

    public static GgufFile Read(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: file not found");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var r = new Cursor(stream, path);

        uint magic = r.U32("magic");
        if (magic != GgufWriter.Magic)
            throw new R1Error($"{path}: not a GGUF file (magic {Convert.ToHexString(BitConverter.GetBytes(magic))}, expected 47475546 \"GGUF\")");
        uint version = r.U32("version");
        if (version is not (2 or 3)) throw new R1Error($"{path}: GGUF version {version} is not supported (2 or 3)");
        ulong tensorCount = r.U64("tensor count");
        ulong kvCount = r.U64("metadata count");
        // Each tensor info takes at least 24 bytes and each key/value at least 13: counts past that are corrupt.
        if (tensorCount > (ulong)r.Remaining / 24) throw new R1Error($"{path}: tensor count {tensorCount} cannot fit in the file's {r.Length} bytes");
        if (kvCount > (ulong)r.Remaining / 13) throw new R1Error($"{path}: metadata count {kvCount} cannot fit in the file's {r.Length} bytes");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>();
        for (ulong i = 0; i < kvCount; i++)
        {
            string key = r.String($"key of metadata entry {i}");
            if (!keys.Add(key)) throw new R1Error($"{path}: metadata key '{UntrustedText.Printable(key)}' appears twice");
            uint type = r.U32($"type of '{UntrustedText.Printable(key)}'");
            metadata.Add(new(key, ReadValue(r, type, key, 0)));
        }

        int alignment = GgufWriter.DefaultAlignment;
        if (metadata.FirstOrDefault(m => m.Key == "general.alignment").Value is { } a)
        {
            if (a.Value is not uint align || align == 0 || (align & (align - 1)) != 0 || align > 1 << 20)
                throw new R1Error($"{path}: general.alignment must be a u32 power of two, got {a.Format()} ({a.Type})");
            alignment = (int)align;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>();
        var shapes = new List<(string Name, long[] Dims, GgmlType Type, long Offset)>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = r.String($"name of tensor {i}");
            if (Encoding.UTF8.GetByteCount(name) > GgufWriter.MaxTensorNameBytes) throw new R1Error($"{path}: tensor name '{UntrustedText.Printable(name)}' is longer than {GgufWriter.MaxTensorNameBytes} bytes");
            if (!names.Add(name)) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' appears twice");
            uint nDims = r.U32($"dim count of tensor '{UntrustedText.Printable(name)}'");
            if (nDims > GgufWriter.MaxDims) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' has {nDims} dims (at most {GgufWriter.MaxDims})");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong dim = r.U64($"dim {d} of tensor '{UntrustedText.Printable(name)}'");
                if (dim > long.MaxValue) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' dim {d} = {dim} is out of range");
                dims[d] = (long)dim;
            }
            uint type = r.U32($"type of tensor '{UntrustedText.Printable(name)}'");
            if (!GgmlTypes.IsKnown(type)) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' has unknown ggml type {type}");
            ulong offset = r.U64($"offset of tensor '{UntrustedText.Printable(name)}'");
            if (offset > long.MaxValue) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' offset {offset} is out of range");
            if (offset % (ulong)alignment != 0) throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' offset {offset} is not a multiple of the alignment {alignment}");
            shapes.Add((name, dims, (GgmlType)type, (long)offset));
        }

        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        if (tensorCount > 0 && dataOffset > r.Length) throw new R1Error($"{path}: truncated: the data section would start at byte {dataOffset} but the file has {r.Length} bytes");
        long dataLength = r.Length - dataOffset;
        foreach (var (name, dims, type, offset) in shapes)
        {
            long size = GgmlTypes.ByteSize(type, dims)
                ?? throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' dims [{string.Join(", ", dims)}] do not fit type {type} (block size {GgmlTypes.BlockSize(type)}) or overflow");
            if (offset > dataLength || size > dataLength - offset)
                throw new R1Error($"{path}: tensor '{UntrustedText.Printable(name)}' ({size} bytes at data offset {offset}) extends past the end of the file (data section holds {Math.Max(dataLength, 0)} bytes); the file is truncated or corrupt");
            tensors.Add(new GgufTensorInfo(name, dims, type, offset, size));
        }
        var byOffset = tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < byOffset.Count; i++)
        {
            var (prev, next) = (byOffset[i - 1], byOffset[i]);
            if (prev.Offset + prev.ByteSize > next.Offset)
                throw new R1Error($"{path}: tensors '{UntrustedText.Printable(prev.Name)}' and '{UntrustedText.Printable(next.Name)}' overlap (bytes {prev.Offset}..{prev.Offset + prev.ByteSize} and {next.Offset}..)");
        }

        return new GgufFile
        {
            Path = path, Version = version, Alignment = alignment, Metadata = metadata, Tensors = tensors,
            DataOffset = dataOffset, FileLength = r.Length,
        };
    }

    static GgufValue ReadValue(Cursor r, uint type, string key, int depth)
    {
        switch ((GgufValueType)type)
        {
            case GgufValueType.Array:
                if (depth >= MaxArrayNesting) throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' nests arrays more than {MaxArrayNesting} deep");
                uint elementType = r.U32($"element type of '{UntrustedText.Printable(key)}'");
                ulong count = r.U64($"length of '{UntrustedText.Printable(key)}'");
                int minSize = MinValueSize(elementType) ?? throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' has unknown array element type {elementType}");
                if (count > (ulong)(r.Remaining / minSize) || count > (ulong)Array.MaxLength)
                    throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' claims {count} elements but only {r.Remaining} bytes remain");
                return new GgufValue(GgufValueType.Array, ReadArray(r, (GgufValueType)elementType, (int)count, key, depth), (GgufValueType)elementType);
            default:
                if (MinValueSize(type) is null) throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' has unknown value type {type}");
                return new GgufValue((GgufValueType)type, ReadScalar(r, (GgufValueType)type, key));
        }
    }

    static Array ReadArray(Cursor r, GgufValueType type, int count, string key, int depth)
    {
        Array array = type switch
        {
            GgufValueType.UInt8 => new byte[count], GgufValueType.Int8 => new sbyte[count],
            GgufValueType.UInt16 => new ushort[count], GgufValueType.Int16 => new short[count],
            GgufValueType.UInt32 => new uint[count], GgufValueType.Int32 => new int[count],
            GgufValueType.Float32 => new float[count], GgufValueType.Bool => new bool[count],
            GgufValueType.String => new string[count], GgufValueType.UInt64 => new ulong[count],
            GgufValueType.Int64 => new long[count], GgufValueType.Float64 => new double[count],
            _ => new GgufValue[count],
        };
        for (int i = 0; i < count; i++)
        {
            if (type == GgufValueType.Array) array.SetValue(ReadValue(r, (uint)GgufValueType.Array, key, depth + 1), i);
            else array.SetValue(ReadScalar(r, type, key), i);
        }
        return array;
    }

    static object ReadScalar(Cursor r, GgufValueType type, string key) => type switch
    {
        GgufValueType.UInt8 => r.Bytes(1, key)[0],
        GgufValueType.Int8 => (sbyte)r.Bytes(1, key)[0],
        GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(r.Bytes(2, key)),
        GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(r.Bytes(2, key)),
        GgufValueType.UInt32 => r.U32(key),
        GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(r.Bytes(4, key)),
        GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(r.Bytes(4, key)),
        GgufValueType.Bool => r.Bytes(1, key)[0] switch
        {
            0 => false, 1 => true,
            var b => throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' is a bool with byte value {b} (expected 0 or 1)"),
        },
        GgufValueType.String => r.String(key),
        GgufValueType.UInt64 => r.U64(key),
        GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(r.Bytes(8, key)),
        GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(r.Bytes(8, key)),
        _ => throw new R1Error($"{r.Path}: metadata '{UntrustedText.Printable(key)}' has unknown value type {(uint)type}"),
    };

    /// <summary>Fewest bytes a value of this type takes in the file; null for an unknown type.</summary>
    static int? MinValueSize(uint type) => (GgufValueType)type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => null,
    };

    /// <summary>Sequential reads that check the file still holds the bytes asked for.</summary>
    sealed class Cursor(Stream stream, string path)
    {
        static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        readonly byte[] scratch = new byte[8];

        public string Path => path;
        public long Length { get; } = stream.Length;
        public long Position { get; private set; }
        public long Remaining => Length - Position;

        public ReadOnlySpan<byte> Bytes(int n, string what)
        {
            Span<byte> span = scratch.AsSpan(0, n);
            Fill(span, what);
            return span;
        }

        public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4, what));
        public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8, what));

        public string String(string what)
        {
            ulong length = U64(what);
            if (length > (ulong)Remaining || length > int.MaxValue)
                throw new R1Error($"{path}: string length {length} of {UntrustedText.Printable(what)} at byte {Position - 8} runs past the end of the file ({Remaining} bytes remain)");
            var bytes = new byte[length];
            Fill(bytes, what);
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw new R1Error($"{path}: {UntrustedText.Printable(what)} at byte {Position - (long)length} is not valid UTF-8");
            }
        }

        void Fill(Span<byte> span, string what)
        {
            if (span.Length > Remaining)
                throw new R1Error($"{path}: truncated: reading {UntrustedText.Printable(what)} at byte {Position} needs {span.Length} bytes but only {Remaining} remain");
            stream.ReadExactly(span);
            Position += span.Length;
        }
    }
}
