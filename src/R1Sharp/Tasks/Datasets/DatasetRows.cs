using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;

namespace R1Sharp.Tasks.Datasets;

/// <summary>A record of a dataset file and where it came from ("data.jsonl:12", "data.parquet row 12") for error messages.</summary>
public sealed record DatasetRow(string Location, JsonObject Fields);

/// <summary>Reads the records of a .jsonl or .parquet file as JSON objects, so one set of layout rules serves both.</summary>
public static class DatasetRows
{
    public static IEnumerable<DatasetRow> Read(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"dataset file not found: {path}");
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".json" => ReadJsonLines(path),
            ".parquet" => ReadParquet(path),
            var other => throw new R1Error($"{path}: unsupported dataset format '{other}' (use .jsonl or .parquet)"),
        };
    }

    static IEnumerable<DatasetRow> ReadJsonLines(string path)
    {
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new R1Error($"{path}:{lineNumber}: not valid JSON ({e.Message})");
            }
            if (node is not JsonObject fields) throw new R1Error($"{path}:{lineNumber}: expected a JSON object, got {node?.GetValueKind().ToString() ?? "null"}");
            yield return new DatasetRow($"{path}:{lineNumber}", fields);
        }
    }

    static IEnumerable<DatasetRow> ReadParquet(string path)
    {
        IList<Dictionary<string, object>> rows;
        try
        {
            using var stream = File.OpenRead(path);
            rows = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new R1Error($"{path}: not a readable Parquet file ({e.Message})", e);
        }
        for (int i = 0; i < rows.Count; i++)
            yield return new DatasetRow($"{path} row {i + 1}", (JsonObject)ToJson(rows[i])!);
    }

    static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        ReadOnlyMemory<char> chars => JsonValue.Create(chars.ToString()),
        bool b => JsonValue.Create(b),
        IDictionary<string, object> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        IEnumerable items and not string => new JsonArray(items.Cast<object?>().Select(ToJson).ToArray()),
        int or long or short or byte or sbyte or ushort or uint => JsonValue.Create(Convert.ToInt64(value, CultureInfo.InvariantCulture)),
        float or double or decimal => JsonValue.Create(Convert.ToDouble(value, CultureInfo.InvariantCulture)),
        var other => JsonValue.Create(other.ToString()),
    };
}
