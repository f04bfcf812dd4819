using System.Text.Json;
using System.Text.Unicode;

namespace R1Sharp.Checkpoints;

/// <summary>One tensor of a safetensors header: bytes [Begin, End) of the data section (offsets relative to its start).</summary>
public sealed record SafeTensorEntry(string Name, string Dtype, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// The validated header of a .safetensors file: its tensors by name, the string map under <c>__metadata__</c>,
/// and where the data section starts in the file (8 + header length).
/// </summary>
public sealed record SafeTensorsHeader(
    IReadOnlyDictionary<string, SafeTensorEntry> Tensors,
    IReadOnlyDictionary<string, string> Metadata,
    long DataStart,
    long DataLength)
{
    /// <summary>Same cap as the reference reader (MAX_HEADER_SIZE): a hostile length cannot make us allocate more.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    /// <summary>Tensors in file order, which is the order their bytes are read.</summary>
    public IEnumerable<SafeTensorEntry> InDataOrder => Tensors.Values.OrderBy(e => e.Begin).ThenBy(e => e.End);

    /// <summary>
    /// Parses and validates the JSON header of a file whose data section has <paramref name="dataLength"/> bytes.
    /// Every check of the reference reader is made; each failure is an R1Error naming <paramref name="source"/>.
    /// </summary>
    public static SafeTensorsHeader Parse(ReadOnlyMemory<byte> json, long dataStart, long dataLength, string source)
    {
        if (json.Length == 0 || json.Span[0] != (byte)'{')
            throw new R1Error($"{source}: header must be a JSON object starting with '{{', got "
                              + (json.Length == 0 ? "an empty header" : $"first byte 0x{json.Span[0]:X2}"));
        if (!Utf8.IsValid(json.Span))
            throw new R1Error($"{source}: header is not valid UTF-8");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new R1Error($"{source}: header is not valid JSON: {e.Message}");
        }

        using (document)
        {
            try
            {
                return FromJson(document.RootElement, dataStart, dataLength, source);
            }
            catch (InvalidOperationException e)
            {
                // Valid JSON can still escape text that is no string, e.g. a lone surrogate "\ud800".
                throw new R1Error($"{source}: header holds a string that is not valid text: {e.Message}");
            }
        }
    }

    static SafeTensorsHeader FromJson(JsonElement root, long dataStart, long dataLength, string source)
    {
        var tensors = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
        IReadOnlyDictionary<string, string>? metadata = null;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == MetadataKey)
            {
                if (metadata is not null) throw new R1Error($"{source}: '{MetadataKey}' appears more than once in the header");
                metadata = ParseMetadata(property.Value, source);
                continue;
            }
            if (tensors.ContainsKey(property.Name))
                throw new R1Error($"{source}: tensor {Quote(property.Name)} appears more than once in the header");
            tensors.Add(property.Name, ParseEntry(property.Name, property.Value, dataLength, source));
        }
        CheckTiling(tensors.Values, dataLength, source);
        return new SafeTensorsHeader(tensors, metadata ?? new Dictionary<string, string>(), dataStart, dataLength);
    }

    static Dictionary<string, string> ParseMetadata(JsonElement value, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new R1Error($"{source}: '{MetadataKey}' must be an object of string values, got {value.ValueKind}");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new R1Error($"{source}: '{MetadataKey}' key {Quote(item.Name)} must have a string value, got {item.Value.ValueKind}");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new R1Error($"{source}: '{MetadataKey}' key {Quote(item.Name)} appears more than once");
        }
        return metadata;
    }

    static SafeTensorEntry ParseEntry(string name, JsonElement value, long dataLength, string source)
    {
        string where = $"{source}: tensor {Quote(name)}";
        if (value.ValueKind != JsonValueKind.Object)
            throw new R1Error($"{where} must be an object with dtype, shape and data_offsets, got {value.ValueKind}");

        JsonElement? dtypeField = null, shapeField = null, offsetsField = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype": dtypeField = FirstOccurrence(dtypeField, field, where); break;
                case "shape": shapeField = FirstOccurrence(shapeField, field, where); break;
                case "data_offsets": offsetsField = FirstOccurrence(offsetsField, field, where); break;
                default: break; // like the reference reader, unknown fields are ignored
            }
        }

        if (dtypeField is not { ValueKind: JsonValueKind.String } dtypeValue)
            throw new R1Error($"{where}: field 'dtype' must be a string");
        string dtypeName = dtypeValue.GetString()!;
        var dtype = SafeTensorsDtype.Find(dtypeName)
                    ?? throw new R1Error($"{where}: unknown dtype {Quote(dtypeName)} (known: {SafeTensorsDtype.KnownNames})");

        if (shapeField is not { ValueKind: JsonValueKind.Array } shapeValue)
            throw new R1Error($"{where}: field 'shape' must be an array of non-negative integers");
        var shape = new long[shapeValue.GetArrayLength()];
        for (int i = 0; i < shape.Length; i++)
            shape[i] = NonNegativeInteger(shapeValue[i], $"{where}: shape[{i}]");

        if (offsetsField is not { ValueKind: JsonValueKind.Array } offsetsValue || offsetsValue.GetArrayLength() != 2)
            throw new R1Error($"{where}: field 'data_offsets' must be an array [begin, end]");
        long begin = NonNegativeInteger(offsetsValue[0], $"{where}: data_offsets[0]");
        long end = NonNegativeInteger(offsetsValue[1], $"{where}: data_offsets[1]");
        if (begin > end)
            throw new R1Error($"{where}: data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw new R1Error($"{where}: data_offsets [{begin}, {end}] run past the end of the data section ({dataLength} bytes; file truncated?)");

        long bits;
        try
        {
            bits = checked(shape.Aggregate(1L, (product, dim) => product * dim) * dtype.Bits);
        }
        catch (OverflowException)
        {
            throw new R1Error($"{where}: shape [{string.Join(", ", shape)}] has too many elements");
        }
        if (bits % 8 != 0)
            throw new R1Error($"{where}: shape [{string.Join(", ", shape)}] of {dtype.Name} ({dtype.Bits} bits each) is not a whole number of bytes");
        if (bits / 8 != end - begin)
            throw new R1Error($"{where}: shape [{string.Join(", ", shape)}] of {dtype.Name} needs {bits / 8} bytes but data_offsets [{begin}, {end}] hold {end - begin}");

        return new SafeTensorEntry(name, dtype.Name, shape, begin, end);
    }

    static JsonElement FirstOccurrence(JsonElement? seen, JsonProperty field, string where) =>
        seen is null ? field.Value : throw new R1Error($"{where}: field '{field.Name}' appears more than once");

    static long NonNegativeInteger(JsonElement value, string what)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) && n >= 0) return n;
        throw new R1Error($"{what} must be a non-negative integer, got {UntrustedText.Printable(value.GetRawText())}");
    }

    /// <summary>Like the reference reader: the tensors, sorted by offset, must cover the data section exactly once.</summary>
    static void CheckTiling(IEnumerable<SafeTensorEntry> tensors, long dataLength, string source)
    {
        long covered = 0;
        SafeTensorEntry? previous = null;
        foreach (var entry in tensors.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin < covered)
                throw new R1Error($"{source}: tensor {Quote(entry.Name)} bytes [{entry.Begin}, {entry.End}) overlap tensor {Quote(previous!.Name)} bytes [{previous.Begin}, {previous.End})");
            if (entry.Begin > covered)
                throw new R1Error($"{source}: gap in the data section: bytes [{covered}, {entry.Begin}) before tensor {Quote(entry.Name)} belong to no tensor");
            covered = entry.End;
            previous = entry;
        }
        if (covered != dataLength)
            throw new R1Error($"{source}: data section has {dataLength} bytes but the tensors cover only [0, {covered}); {dataLength - covered} trailing bytes belong to no tensor");
    }

    /// <summary>Names come from untrusted files: quote them, escape control characters, cut very long ones.</summary>
    internal static string Quote(string name) => $"'{UntrustedText.Printable(name)}'";
}
