using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// Reads and writes one .safetensors file: u64 little-endian header length N, N bytes of JSON header
/// (space-padded), then the tensors' raw little-endian row-major bytes. Files are untrusted: the header is
/// fully validated (see <see cref="SafeTensorsHeader.Parse"/>) before any tensor memory is allocated, and
/// reading allocates nothing beyond the header and the tensors themselves.
/// </summary>
public static class SafeTensorsFile
{
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var file = OpenRead(path);
        return ReadHeader(file, path);
    }

    /// <summary>
    /// Every tensor of the file, in its stored dtype, on the CPU. The caller owns them (they join the caller's
    /// dispose scope, if one is open).
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        using var file = OpenRead(path);
        var header = ReadHeader(file, path);
        foreach (var entry in header.Tensors.Values)
            if (SafeTensorsDtype.Find(entry.Dtype)!.TorchType is null)
                throw new R1Error($"{path}: tensor {SafeTensorsHeader.Quote(entry.Name)} has dtype {entry.Dtype}, which TorchSharp cannot hold");

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in header.InDataOrder)
            {
                var tensor = empty(entry.Shape, SafeTensorsDtype.Find(entry.Dtype)!.TorchType);
                tensors.Add(entry.Name, tensor);
                long start = header.DataStart + entry.Begin;
                TensorBytes.ForEachChunk(tensor, (chunk, offset) => ReadExactly(file, chunk, start + offset, path));
            }
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return tensors;
    }

    /// <summary>
    /// A tensor to be written whose bytes are produced only when its turn comes (<see cref="Save(string, IReadOnlyDictionary{string, PendingTensor}, IReadOnlyDictionary{string, string}?)"/>),
    /// so a file can be bigger than memory: <paramref name="Write"/> must write exactly numel · element size bytes,
    /// row-major, little-endian.
    /// </summary>
    public sealed record PendingTensor(long[] Shape, ScalarType Dtype, Action<Stream> Write)
    {
        public long ByteLength => Shape.Aggregate(1L, (n, d) => checked(n * d)) * (SafeTensorsDtype.For(Dtype).Bits / 8);
    }

    /// <summary>
    /// Writes the tensors (any device, any layout; the bytes written are those of a contiguous CPU copy) and an
    /// optional <c>__metadata__</c> string map. Like the Rust writer, tensors are ordered by element size, largest
    /// first, then by name, so each starts aligned to its element size after the 8-byte-aligned header.
    /// The file appears whole or not at all (temp file + rename).
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, tensors.ToDictionary(kv => kv.Key, kv => new PendingTensor(kv.Value.shape, kv.Value.dtype, stream => WriteBytes(kv.Value, stream))), metadata);

    /// <summary>As <see cref="Save(string, IReadOnlyDictionary{string, Tensor}, IReadOnlyDictionary{string, string}?)"/>, with each tensor's bytes written by its own producer, one after another.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, PendingTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var layout = Layout(tensors, path);
        byte[] header = HeaderBytes(layout, metadata);
        if (header.Length > SafeTensorsHeader.MaxHeaderBytes)
            throw new R1Error($"{path}: header would be {header.Length} bytes, over the {SafeTensorsHeader.MaxHeaderBytes} readers accept; save fewer tensors per file");

        AtomicFile.Write(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            long dataStart = stream.Position;
            foreach (var item in layout)
            {
                item.Tensor.Write(stream);
                if (stream.Position - dataStart != item.End)
                    throw new InvalidOperationException($"{path}: tensor {item.Name} wrote {stream.Position - dataStart - item.Begin} bytes, expected {item.End - item.Begin}");
            }
            stream.Flush(flushToDisk: true);
        });
    }

    /// <summary>Bytes a tensor takes in a safetensors file.</summary>
    public static long ByteLength(Tensor tensor) => tensor.numel() * tensor.element_size();

    /// <summary>Writes a tensor's bytes as a contiguous CPU copy.</summary>
    public static void WriteBytes(Tensor tensor, Stream stream)
    {
        using var scope = NewDisposeScope(); // frees the CPU/contiguous copies, never the caller's tensor
        var data = tensor.detach().cpu().contiguous();
        TensorBytes.ForEachChunk(data, (chunk, _) => stream.Write(chunk));
    }

    sealed record Placed(string Name, PendingTensor Tensor, SafeTensorsDtype Dtype, long Begin, long End);

    static List<Placed> Layout(IReadOnlyDictionary<string, PendingTensor> tensors, string path)
    {
        var placed = new List<Placed>(tensors.Count);
        long offset = 0;
        foreach (var (name, tensor) in tensors
                     .Select(kv => (kv.Key, kv.Value))
                     .OrderByDescending(kv => SafeTensorsDtype.For(kv.Value.Dtype).Bits)
                     .ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (name == SafeTensorsHeader.MetadataKey)
                throw new R1Error($"{path}: '{SafeTensorsHeader.MetadataKey}' is reserved and cannot name a tensor");
            var dtype = SafeTensorsDtype.For(tensor.Dtype);
            long bytes = tensor.ByteLength;
            placed.Add(new Placed(name, tensor, dtype, offset, offset + bytes));
            offset += bytes;
        }
        return placed;
    }

    /// <summary>The header as the Rust writer makes it: compact JSON, metadata first, tensors in file order, space-padded to 8 bytes.</summary>
    static byte[] HeaderBytes(List<Placed> layout, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var item in layout)
            {
                json.WriteStartObject(item.Name);
                json.WriteString("dtype", item.Dtype.Name);
                json.WriteStartArray("shape");
                foreach (long dim in item.Tensor.Shape) json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(item.Begin);
                json.WriteNumberValue(item.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    static SafeFileHandle OpenRead(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new R1Error($"{path}: cannot open safetensors file: {e.Message}", e);
        }
    }

    static SafeTensorsHeader ReadHeader(SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8)
            throw new R1Error($"{path}: file has {fileLength} bytes, too short for the 8-byte header length of a safetensors file");
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(file, lengthBytes, 0, path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > SafeTensorsHeader.MaxHeaderBytes)
            throw new R1Error($"{path}: header length {headerLength} is over the {SafeTensorsHeader.MaxHeaderBytes}-byte limit (not a safetensors file?)");
        if (8 + (long)headerLength > fileLength)
            throw new R1Error($"{path}: header length {headerLength} runs past the end of the {fileLength}-byte file (truncated?)");

        var json = new byte[headerLength];
        ReadExactly(file, json, 8, path);
        long dataStart = 8 + (long)headerLength;
        return SafeTensorsHeader.Parse(json, dataStart, fileLength - dataStart, path);
    }

    static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset, string path)
    {
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(file, buffer, offset);
            if (read == 0)
                throw new R1Error($"{path}: file ended at byte {offset} while reading it (did it shrink while being read?)");
            buffer = buffer[read..];
            offset += read;
        }
    }
}
