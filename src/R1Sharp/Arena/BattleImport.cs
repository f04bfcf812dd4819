using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Arena;

/// <summary>
/// <c>r1 arena import</c>: battles in the layout LMArena/FastChat publish — one JSON object a line with "model_a",
/// "model_b" and "winner" ∈ "model_a" | "model_b" | "tie" | "tie (bothbad)" — so published arena data and other tools'
/// battles can be rated too. Every other field of a line is kept, as JSON, in the battle's extra column; a numeric
/// "tstamp" (Unix seconds) becomes its time. Imported battles count as judged by people, as LMArena's are. The file is
/// untrusted: lines and names are bounded, and a bad line stops the import with its line number, storing nothing.
/// </summary>
public static class BattleImport
{
    /// <summary>Longest line read (LMArena's lines with whole conversations are far shorter).</summary>
    public const int MaxLineBytes = 4 << 20;
    public const int MaxModelNameChars = 200;

    /// <summary>Imports the file; returns how many battles were stored.</summary>
    public static int Import(string path, ArenaStore store)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: file not found");
        using var file = File.OpenRead(path);
        var lines = new BoundedLineReader(file, MaxLineBytes, path);
        return store.AddAll(Read(lines, path));
    }

    static IEnumerable<Battle> Read(BoundedLineReader lines, string path)
    {
        var imported = DateTimeOffset.UtcNow;
        while (true)
        {
            string? line = lines.ReadLine();
            if (line is null) yield break;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string at = $"{path}:{lines.LineNumber}";
            Battle battle;
            try
            {
                battle = Parse(line, at, imported);
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json's answer to a string holding a lone surrogate escape ("\ud800").
                throw new R1Error($"{at}: a string is not valid Unicode");
            }
            yield return battle;
        }
    }

    static Battle Parse(string line, string at, DateTimeOffset imported)
    {
        JsonObject record;
        try
        {
            record = JsonNode.Parse(line, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new R1Error($"{at}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{at}: not valid JSON ({e.Message})");
        }
        string modelA = Name(record, "model_a", at), modelB = Name(record, "model_b", at);
        if (modelA == modelB) throw new R1Error($"{at}: model_a and model_b are the same model, '{UntrustedText.Printable(modelA, 60)}'");
        string? winnerText = record["winner"] is JsonValue v && v.TryGetValue(out string? w) ? w : null;
        var winner = ArenaNames.ParseWinner(winnerText)
            ?? throw new R1Error($"{at}: winner must be \"model_a\", \"model_b\", \"tie\" or \"tie (bothbad)\", got {UntrustedText.Printable(record["winner"]?.ToJsonString() ?? "nothing", 60)}");
        record.Remove("model_a");
        record.Remove("model_b");
        record.Remove("winner");
        var time = record["tstamp"] is JsonValue t && t.TryGetValue(out double seconds) && seconds is > 0 and < 32503680000 // before year 3000
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000))
            : imported;
        return new Battle(Battle.NewId(), modelA, modelB, Judge.Human, time)
        {
            Winner = winner, VotedAt = time, Source = "import", Extra = record.ToJsonString(),
        };
    }

    static string Name(JsonObject record, string field, string at)
    {
        string? name = record[field] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        if (name is null) throw new R1Error($"{at}: {field} must be a model name (a string)");
        if (name.Trim().Length == 0 || name.Length > MaxModelNameChars || name.Any(char.IsControl))
            throw new R1Error($"{at}: {field} must be 1 to {MaxModelNameChars} printable characters, got \"{UntrustedText.Printable(name, 60)}\"");
        return name;
    }
}
