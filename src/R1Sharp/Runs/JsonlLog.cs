using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Runs;

/// <summary>
/// A JSON-lines file of records that each carry a "step". Appends are one write of a whole line, flushed by closing
/// the file, so a killed run loses at most the line being written; <see cref="TruncateAfter"/> drops that partial line
/// and every record past a checkpoint, which is how a resumed run's log ends up equal to an unbroken run's.
/// </summary>
public sealed class JsonlLog(string path)
{
    public string Path { get; } = path;

    public void Append(JsonObject record)
    {
        if (record["step"] is null)
            throw new ArgumentException("a log record needs a step", nameof(record));
        File.AppendAllText(Path, JsonlFile.Line(record) + "\n");
    }

    /// <summary>Records in file order. A partial last line (from a kill mid-write) is skipped; a bad line elsewhere is
    /// an error naming the file and line.</summary>
    public List<JsonObject> Read()
    {
        var records = new List<JsonObject>();
        if (!File.Exists(Path))
            return records;
        var text = File.ReadAllText(Path);
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
                continue;
            bool isUnfinishedLast = i == lines.Length - 1; // no trailing newline: the write never completed
            try
            {
                if (JsonNode.Parse(lines[i]) is JsonObject record && record["step"] is not null)
                {
                    if (!isUnfinishedLast) records.Add(record);
                    continue;
                }
            }
            catch (JsonException) when (isUnfinishedLast)
            {
                continue;
            }
            catch (JsonException e)
            {
                throw new R1Error($"{Path}:{i + 1}: not a JSON record: {e.Message}", e);
            }
            if (!isUnfinishedLast)
                throw new R1Error($"{Path}:{i + 1}: expected a JSON object with a \"step\"");
        }
        return records;
    }

    /// <summary>Keeps only whole records with step ≤ <paramref name="step"/> (rewritten atomically).</summary>
    public void TruncateAfter(int step)
    {
        if (!File.Exists(Path))
            return;
        JsonlFile.Write(Path, Read().Where(r => StepOf(r) <= step));
    }

    public static int StepOf(JsonObject record) => record["step"]!.GetValue<int>();
}
