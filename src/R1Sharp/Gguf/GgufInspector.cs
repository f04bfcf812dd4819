using System.Text;

namespace R1Sharp.Gguf;

/// <summary>A printable summary of a GGUF file for `r1 inspect FILE.gguf`: what llama.cpp will read from it.</summary>
public static class GgufInspector
{
    public static string Summarize(string path, int maxArrayElements = 8)
    {
        var file = GgufReader.Read(path);
        var s = new StringBuilder();
        s.AppendLine($"GGUF v{file.Version}: {path}");
        s.AppendLine($"architecture: {file.Architecture ?? "(none)"}");
        s.AppendLine($"file size: {FormatBytes(file.FileLength)}, alignment {file.Alignment}, data at byte {file.DataOffset}");
        s.AppendLine();
        s.AppendLine($"metadata ({file.Metadata.Count} keys):");
        int keyWidth = file.Metadata.Count == 0 ? 0 : file.Metadata.Max(m => m.Key.Length);
        foreach (var (key, value) in file.Metadata)
        {
            string type = value.IsArray ? $"{value.ElementType}[{value.Count}]" : value.Type.ToString();
            s.AppendLine($"  {key.PadRight(keyWidth)}  {type,-16} {value.Format(maxArrayElements)}");
        }
        s.AppendLine();
        long parameters = file.Tensors.Sum(t => t.ElementCount);
        long bytes = file.Tensors.Sum(t => t.ByteSize);
        s.AppendLine($"tensors ({file.Tensors.Count}, {parameters:N0} elements, {FormatBytes(bytes)}; shapes in PyTorch order, outermost first):");
        int nameWidth = file.Tensors.Count == 0 ? 0 : file.Tensors.Max(t => t.Name.Length);
        foreach (var t in file.Tensors)
            s.AppendLine($"  {t.Name.PadRight(nameWidth)}  {t.Type,-5} [{string.Join(", ", t.Shape)}]");
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
