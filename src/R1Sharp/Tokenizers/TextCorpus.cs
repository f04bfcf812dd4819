using System.Text.Json;

namespace R1Sharp.Tokenizers;

/// <summary>Text for the tokenizer commands: a .jsonl file of {"text": …} lines, or any other file as plain UTF-8 text.</summary>
public static class TextCorpus
{
    /// <summary>The texts, read as they are used; a corpus with no text at all is an error naming the file (when the
    /// last text has been read).</summary>
    public static IEnumerable<string> ReadTexts(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"corpus file not found: {path}");
        return NotAllEmpty(path, path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? ReadJsonl(path).Select(line => line.Text)
            : [File.ReadAllText(path)]);
    }

    static IEnumerable<string> NotAllEmpty(string path, IEnumerable<string> texts)
    {
        bool any = false;
        foreach (string text in texts)
        {
            any |= !string.IsNullOrWhiteSpace(text);
            yield return text;
        }
        if (!any) throw new R1Error($"{path}: the corpus has no text");
    }

    /// <summary>The "text" of every non-blank line; a line that is not such an object is an error naming file and line.</summary>
    public static IEnumerable<(int LineNumber, string Text)> ReadJsonl(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"JSONL file not found: {path}");
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                text = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out JsonElement t)
                       && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new R1Error($"{path}:{lineNumber}: not valid JSON ({e.Message})", e);
            }
            yield return (lineNumber, text ?? throw new R1Error($"{path}:{lineNumber}: expected an object with a string field \"text\""));
        }
    }
}
