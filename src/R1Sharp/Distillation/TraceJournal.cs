using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Remote;
using R1Sharp.Training;

namespace R1Sharp.Distillation;

/// <summary>
/// One finished prompt as the journal records it: its acceptance counts, its kept traces' tokens, where its traces end
/// in the traces file, and what the endpoint spent since the previous prompt was recorded.
/// </summary>
/// <param name="Prompt">Its index among the run's prompts (entries are 0, 1, 2, … in order).</param>
/// <param name="TracesEnd">Length in bytes of the traces file once this prompt's traces were written.</param>
public sealed record JournalEntry(int Prompt, string PromptId, int Samples, int Correct, int WellFormed, int Finished, int Accepted, int Kept,
    long KeptTokens, long TracesEnd, long Requests, long Retries, long PromptTokens, long CompletionTokens, double RetryWaitSeconds, double Seconds)
{
    public PromptAcceptance Acceptance => new(PromptId, Samples, Correct, WellFormed, Finished, Accepted, Kept);
    public EndpointCounts Usage => new(Requests, Retries, PromptTokens, CompletionTokens, RetryWaitSeconds);
}

/// <summary>
/// Traces written as prompts finish, so a killed `r1 sample --endpoint` loses at most the prompts in flight. The traces
/// file stays plain SFT JSONL; beside it, &lt;name&gt;.progress.jsonl holds the run's settings on its first line, then one
/// <see cref="JournalEntry"/> per finished prompt, appended after that prompt's traces were flushed to disk. Both files
/// are only appended to. On reopening, a torn last journal line is cut off and the traces file is cut back to the last
/// entry's <see cref="JournalEntry.TracesEnd"/> — dropping a torn line and the traces of a prompt whose entry never got
/// written — so every finished prompt's traces are in the file exactly once and nothing else is.
/// </summary>
public sealed class TraceJournal : IDisposable
{
    static readonly JsonSerializerOptions Line = new(SnakeCase.Report) { WriteIndented = false };
    /// <summary>An entry is ~400 bytes: this is millions of prompts.</summary>
    const long MaxJournalBytes = 1L << 30;

    readonly FileStream traces, journal;
    readonly List<JournalEntry> entries;

    TraceJournal(FileStream traces, FileStream journal, List<JournalEntry> entries) => (this.traces, this.journal, this.entries) = (traces, journal, entries);

    /// <summary>The prompts finished so far (earlier runs' included), in order.</summary>
    public IReadOnlyList<JournalEntry> Entries => entries;

    /// <summary>Where the journal of traces file <paramref name="tracesPath"/> goes: traces.jsonl → traces.progress.jsonl.</summary>
    public static string PathFor(string tracesPath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tracesPath))!, Path.GetFileNameWithoutExtension(tracesPath) + ".progress.jsonl");

    /// <summary>
    /// Starts a new traces file, or resumes the one at <paramref name="tracesPath"/> if its journal was written with the
    /// same <paramref name="settings"/> (different ones are an error naming them: the files would mix two runs).
    /// </summary>
    public static TraceJournal Open(string tracesPath, JsonObject settings)
    {
        string journalPath = PathFor(tracesPath);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(tracesPath))!);
        bool resuming = File.Exists(journalPath) && new FileInfo(journalPath).Length > 0;
        if (!resuming && File.Exists(tracesPath) && new FileInfo(tracesPath).Length > 0)
            throw new R1Error($"{tracesPath} exists without {Path.GetFileName(journalPath)}, so it was not written by an endpoint run that can resume; "
                + "remove it or choose another --out");
        var journal = new FileStream(journalPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        FileStream? traces = null;
        try
        {
            var entries = new List<JournalEntry>();
            if (resuming) entries = Recover(journal, journalPath, settings);
            else AppendSettings(journal, settings);
            traces = new FileStream(tracesPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
            long end = entries.Count > 0 ? entries[^1].TracesEnd : 0;
            if (traces.Length < end)
                throw new R1Error($"{tracesPath} is shorter ({traces.Length} bytes) than {Path.GetFileName(journalPath)} records ({end} bytes): "
                    + "it was changed by something else; remove both files or choose another --out");
            traces.SetLength(end); // drops a torn line, and traces whose prompt was never recorded as done
            traces.Seek(0, SeekOrigin.End);
            return new TraceJournal(traces, journal, entries);
        }
        catch
        {
            traces?.Dispose();
            journal.Dispose();
            throw;
        }
    }

    /// <summary>The journal's entries after cutting a torn last line; checks the settings line against <paramref name="settings"/>.</summary>
    static List<JournalEntry> Recover(FileStream journal, string path, JsonObject settings)
    {
        if (journal.Length > MaxJournalBytes) throw new R1Error($"{path}: {journal.Length} bytes is more than a journal of this size can be ({MaxJournalBytes})");
        var bytes = new byte[journal.Length];
        journal.ReadExactly(bytes);
        int whole = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        journal.SetLength(whole);
        journal.Seek(0, SeekOrigin.End);
        var lines = Encoding.UTF8.GetString(bytes, 0, whole).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) // killed while writing the settings, before any trace
        {
            AppendSettings(journal, settings);
            return [];
        }
        if (Parse(lines[0], path, 1)["settings"] is not JsonObject recorded)
            throw new R1Error($"{path}:1: expected the run's settings ({{\"settings\": {{…}}}}); remove the traces and this file, or choose another --out");
        var changed = settings.Select(kv => kv.Key).Union(recorded.Select(kv => kv.Key))
            .Where(key => !JsonNode.DeepEquals(settings[key], recorded[key]))
            .Select(key => $"{key} {recorded[key]?.ToJsonString() ?? "(none)"} → {settings[key]?.ToJsonString() ?? "(none)"}").ToList();
        if (changed.Count > 0)
            throw new R1Error($"{path}: these traces were sampled with other settings ({string.Join(", ", changed)}); "
                + "resume with the same ones, or choose another --out");
        var entries = new List<JournalEntry>();
        for (int i = 1; i < lines.Length; i++)
        {
            JournalEntry? entry;
            try
            {
                entry = Parse(lines[i], path, i + 1).Deserialize<JournalEntry>(Line);
            }
            catch (JsonException e)
            {
                throw new R1Error($"{path}:{i + 1}: not a prompt entry ({e.Message})");
            }
            if (entry is null || entry.Prompt != entries.Count || entry.TracesEnd < (entries.Count > 0 ? entries[^1].TracesEnd : 0))
                throw new R1Error($"{path}:{i + 1}: expected the entry of prompt {entries.Count}, in order");
            entries.Add(entry);
        }
        return entries;
    }

    static JsonObject Parse(string line, string path, int lineNumber)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw new R1Error($"{path}:{lineNumber}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}:{lineNumber}: not valid JSON ({e.Message})");
        }
    }

    /// <summary>
    /// Records prompt <see cref="Entries"/>.Count as done: its traces are appended and flushed to disk, then its entry
    /// (<paramref name="usage"/> and <paramref name="seconds"/>: what it cost since the previous entry).
    /// </summary>
    public void Commit(IReadOnlyList<DistillationTrace> kept, PromptAcceptance acceptance, EndpointCounts usage, double seconds)
    {
        foreach (var trace in kept) traces.Write(Encoding.UTF8.GetBytes(JsonlFile.Line(trace.ToJson()) + "\n"));
        traces.Flush(flushToDisk: true);
        var entry = new JournalEntry(entries.Count, acceptance.PromptId, acceptance.Samples, acceptance.Correct, acceptance.WellFormed,
            acceptance.Finished, acceptance.Accepted, acceptance.Kept, kept.Sum(t => (long)t.Tokens), traces.Length,
            usage.Requests, usage.Retries, usage.PromptTokens, usage.CompletionTokens, usage.RetryWaitSeconds, seconds);
        AppendLine(journal, JsonSerializer.Serialize(entry, Line));
        entries.Add(entry);
    }

    static void AppendSettings(FileStream journal, JsonObject settings) =>
        AppendLine(journal, new JsonObject { ["settings"] = settings.DeepClone() }.ToJsonString(Line));

    /// <summary>One write of the whole line, flushed to disk: a kill leaves it whole or torn at the end, never interleaved.</summary>
    static void AppendLine(FileStream stream, string line)
    {
        stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        stream.Flush(flushToDisk: true);
    }

    public void Dispose()
    {
        traces.Dispose();
        journal.Dispose();
    }
}
