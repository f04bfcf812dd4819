using System.Text;

namespace R1Sharp.Gguf;

/// <summary>
/// A printable summary of a GGUF file for `r1 inspect FILE.gguf`: what llama.cpp will read from it. The file is
/// untrusted, so the summary is bounded: keys, names and values have control characters escaped and are cut, columns
/// are padded to a fixed width at most, and very long lists end with a count of what was left out.
/// </summary>
public static class GgufInspector
{
    const int MaxKeyChars = 64, MaxKeyColumn = 40, MaxNameColumn = 48, MaxValueChars = 200;
    const int MaxMetadataLines = 1_000, MaxTensorLines = 10_000;

    public static string Summarize(string path, int maxArrayElements = 8)
    {
        // GgufReader validates the header, the tensor table and every tensor's byte range against the file's size.
        var file = GgufReader.Read(path);
        var s = new StringBuilder();
        s.AppendLine($"GGUF v{file.Version}: {path}");
        s.AppendLine($"architecture: {(file.Architecture is { } architecture ? UntrustedText.Printable(architecture, MaxKeyChars) : "(none)")}");
        s.AppendLine($"file size: {FormatBytes(file.FileLength)}, alignment {file.Alignment}, data at byte {file.DataOffset}");
        s.AppendLine();
        s.AppendLine($"metadata ({file.Metadata.Count} keys):");
        var keys = file.Metadata.Take(MaxMetadataLines).Select(m => (Key: UntrustedText.Printable(m.Key, MaxKeyChars), m.Value)).ToList();
        int keyWidth = Math.Min(MaxKeyColumn, keys.Count == 0 ? 0 : keys.Max(k => k.Key.Length));
        foreach (var (key, value) in keys)
        {
            string type = value.IsArray ? $"{value.ElementType}[{value.Count}]" : value.Type.ToString();
            s.AppendLine($"  {key.PadRight(keyWidth)}  {type,-16} {value.Format(maxArrayElements, maxLength: MaxValueChars)}");
        }
        if (file.Metadata.Count > MaxMetadataLines) s.AppendLine($"  ... and {file.Metadata.Count - MaxMetadataLines:N0} more keys");
        s.AppendLine();
        long parameters = file.Tensors.Sum(t => t.ElementCount);
        long bytes = file.Tensors.Sum(t => t.ByteSize);
        s.AppendLine($"tensors ({file.Tensors.Count}, {parameters:N0} elements, {FormatBytes(bytes)}, all within the file; shapes in PyTorch order, outermost first):");
        var names = file.Tensors.Take(MaxTensorLines).Select(t => (Name: UntrustedText.Printable(t.Name, MaxKeyChars), Tensor: t)).ToList();
        int nameWidth = Math.Min(MaxNameColumn, names.Count == 0 ? 0 : names.Max(t => t.Name.Length));
        foreach (var (name, t) in names)
            s.AppendLine($"  {name.PadRight(nameWidth)}  {t.Type,-5} [{string.Join(", ", t.Shape)}]");
        if (file.Tensors.Count > MaxTensorLines) s.AppendLine($"  ... and {file.Tensors.Count - MaxTensorLines:N0} more tensors");
        return s.ToString();
    }

    static string FormatBytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{n / (double)(1L << 10):F1} KiB",
        _ => $"{n} B",
    };
}
