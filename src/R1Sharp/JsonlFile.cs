using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp;

/// <summary>Reads JSON Lines whose every non-blank line must be an object; a bad line names file and line.</summary>
public static class JsonlFile
{
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
