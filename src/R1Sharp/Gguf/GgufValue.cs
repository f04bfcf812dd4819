using System.Globalization;

namespace R1Sharp.Gguf;

/// <summary>The type tag GGUF stores before each metadata value (and each array's elements).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8,
    Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One typed metadata value. <see cref="Value"/> holds the CLR value of <see cref="Type"/> (byte, sbyte, ushort,
/// short, uint, int, float, bool, string, ulong, long, double); for an array it holds an <see cref="Array"/> whose
/// elements are of <see cref="ElementType"/> (nested arrays hold <see cref="GgufValue"/>[]).
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value, GgufValueType ElementType = GgufValueType.UInt8)
{
    public static GgufValue U32(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue I32(int v) => new(GgufValueType.Int32, v);
    public static GgufValue U64(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue F32(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, v);
    public static GgufValue Strings(IEnumerable<string> v) => new(GgufValueType.Array, v.ToArray(), GgufValueType.String);
    public static GgufValue Int32s(IEnumerable<int> v) => new(GgufValueType.Array, v.ToArray(), GgufValueType.Int32);
    public static GgufValue Float32s(IEnumerable<float> v) => new(GgufValueType.Array, v.ToArray(), GgufValueType.Float32);

    public bool IsArray => Type == GgufValueType.Array;
    public int Count => Value is Array a ? a.Length : 1;

    /// <summary>An unsigned or signed integer value as a long (for ids, counts and sizes).</summary>
    public long AsInteger() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v, long v => v,
        ulong v when v <= long.MaxValue => (long)v,
        _ => throw new R1Error($"GGUF value of type {Type} is not an integer"),
    };

    public string AsString() => Value as string ?? throw new R1Error($"GGUF value of type {Type} is not a string");

    /// <summary>
    /// A one-line rendering, safe to print: strings quoted with control characters escaped and cut at
    /// <paramref name="maxStringLength"/>; arrays show their first <paramref name="maxElements"/> elements and their
    /// length; the whole line is cut at <paramref name="maxLength"/> characters.
    /// </summary>
    public string Format(int maxElements = 8, int maxStringLength = 120, int maxLength = 400)
    {
        string text = Value is Array array ? FormatArray(array, maxElements, maxStringLength, maxLength) : FormatScalar(Value, maxStringLength);
        return text.Length <= maxLength ? text : text[..maxLength] + $"... ({text.Length:N0} chars)";
    }

    string FormatArray(Array array, int maxElements, int maxStringLength, int maxLength)
    {
        var s = new System.Text.StringBuilder("[");
        foreach (var element in array.Cast<object>().Take(maxElements))
        {
            // Nested arrays are formatted only while the line has room, so a deep nest costs no more than the line.
            if (s.Length > maxLength) break;
            if (s.Length > 1) s.Append(", ");
            s.Append(element is GgufValue nested ? nested.Format(maxElements, maxStringLength, maxLength) : FormatScalar(element, maxStringLength));
        }
        if (array.Length > maxElements) s.Append($", ... ({array.Length} {ElementType} in all)");
        return s.Append(']').ToString();
    }

    static string FormatScalar(object v, int maxStringLength) => v switch
    {
        string s => "\"" + UntrustedText.Printable(s.Replace("\\", "\\\\").Replace("\"", "\\\""), maxStringLength) + "\"",
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
