using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp;

/// <summary>
/// JSON Lines, read and written one way everywhere. Reading: every non-blank line must be an object; a bad line names
/// file and line. Writing (samples, metrics, traces, graded lines, token ids): one object per line in readable UTF-8 —
/// `&lt;/think&gt;`, `+` and `é` appear as themselves, so grep finds them; only what JSON requires is escaped.
/// </summary>
public static class JsonlFile
{
    /// <summary>The one writer setting of every JSONL file: readable UTF-8 rather than \u escapes of HTML-sensitive and
    /// non-ASCII characters (the default, meant for JSON inside web pages).</summary>
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One line of a JSONL file (without the newline).</summary>
    public static string Line(JsonNode record) => record.ToJsonString(Options);

    /// <summary>Writes one record per line, atomically (temp file, then rename); returns how many.</summary>
    public static int Write(string path, IEnumerable<JsonNode> records)
    {
        int written = 0;
        AtomicFile.Write(path, temp =>
        {
            using var writer = new StreamWriter(temp);
            foreach (var record in records)
            {
                writer.WriteLine(Line(record));
                written++;
            }
        });
        return written;
    }

    public static IEnumerable<(int LineNumber, JsonObject Record)> ReadObjects(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: file not found");
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject record;
            try
            {
                record = JsonNode.Parse(line) as JsonObject ?? throw new R1Error($"{path}:{lineNumber}: expected a JSON object");
            }
            catch (JsonException e)
            {
                throw new R1Error($"{path}:{lineNumber}: not valid JSON ({e.Message})");
            }
            yield return (lineNumber, record);
        }
    }
}
