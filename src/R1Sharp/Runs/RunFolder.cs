using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Training;

namespace R1Sharp.Runs;

/// <summary>One step's metrics as read back from metrics.jsonl; a value logged as null (NaN, ∞) reads as NaN.</summary>
public sealed record MetricsRow(int Step, IReadOnlyDictionary<string, double> Values);

/// <summary>
/// The folder every training command writes, runs/&lt;name&gt;/:
/// run.json (name, kind, status, times, final metrics), config.json (the options, TRL keys for GRPO),
/// metrics.jsonl (one object per step), samples.jsonl (sample completions), checkpoints/step-NNNNNN/,
/// plots/*.png and report.md. It is registered in the <see cref="RunStore"/> of its parent folder.
/// </summary>
public sealed class RunFolder
{
    public const string RunInfoFile = "run.json";
    public const string ConfigFile = "config.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string SamplesFile = "samples.jsonl";
    public const string ReportFile = "report.md";
    public const string CheckpointsDir = "checkpoints";
    public const string PlotsDir = "plots";

    /// <summary>Plotted by <see cref="Finish"/> when present: the curves that show whether a run learns.</summary>
    public static readonly string[] DefaultPlots =
        [MetricNames.Reward, MetricNames.Accuracy, MetricNames.MeanLength, MetricNames.Kl, MetricNames.Loss, "eval_loss"];

    RunRecord info;

    RunFolder(RunStore store, RunRecord info)
    {
        Store = store;
        this.info = info;
        Metrics = new JsonlLog(System.IO.Path.Combine(info.Path, MetricsFile));
        Samples = new JsonlLog(System.IO.Path.Combine(info.Path, SamplesFile));
        Checkpoints = new RunCheckpoints(System.IO.Path.Combine(info.Path, CheckpointsDir));
    }

    public RunStore Store { get; }
    public string Path => info.Path;
    public string Name => info.Name;
    public string Kind => info.Kind;
    public RunRecord Info => info;
    public JsonlLog Metrics { get; }
    public JsonlLog Samples { get; }
    public RunCheckpoints Checkpoints { get; }
    public string ConfigPath => System.IO.Path.Combine(Path, ConfigFile);
    public string ReportPath => System.IO.Path.Combine(Path, ReportFile);
    public string PlotsPath => System.IO.Path.Combine(Path, PlotsDir);

    /// <summary>A name that sorts by time: &lt;kind&gt;-yyyyMMdd-HHmmss.</summary>
    public static string DefaultName(string kind) =>
        $"{kind}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}";

    /// <summary>Starts a new run in runsRoot/name: writes run.json and config.json and indexes it as running.
    /// An existing non-empty folder is an error (resume it, or pick another name).</summary>
    public static RunFolder Create(string runsRoot, string name, string kind, object config)
    {
        if (name.Length == 0 || name.IndexOfAny(System.IO.Path.GetInvalidFileNameChars()) >= 0 || name is "." or "..")
            throw new R1Error($"run name '{name}' cannot be a folder name");
        var store = new RunStore(runsRoot);
        var path = System.IO.Path.Combine(store.Root, name);
        if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any())
            throw new R1Error($"run folder {path} already exists: resume it (--resume) or choose another name");
        Directory.CreateDirectory(path);
        var run = new RunFolder(store, new RunRecord(name, kind, path, RunStatus.Running, DateTimeOffset.UtcNow, null,
            new Dictionary<string, double>(), Environment.ProcessId));
        AtomicFile.WriteAllText(run.ConfigPath, JsonSerializer.Serialize(config, config.GetType(), SnakeCase.Json));
        run.SaveInfo();
        return run;
    }

    /// <summary>
    /// Reopens runsRoot/name to continue it from its latest complete checkpoint (returned; null if none, which
    /// means start from step 0). Records past that step are cut from metrics.jsonl and samples.jsonl, so the steps
    /// that will be run again are logged once, as in a run that was never stopped.
    /// </summary>
    public static RunFolder Resume(string runsRoot, string name, out CheckpointInfo? checkpoint)
    {
        var store = new RunStore(runsRoot);
        var path = System.IO.Path.Combine(store.Root, name);
        var saved = ReadRunInfo(path) ?? throw new R1Error($"{path} is not a run folder (no {RunInfoFile})");
        var run = new RunFolder(store, saved with { Status = RunStatus.Running, EndedAt = null, ProcessId = Environment.ProcessId });
        run.Checkpoints.RemoveUnfinished();
        checkpoint = run.Checkpoints.Latest();
        int resumeStep = checkpoint?.Step ?? 0;
        run.Metrics.TruncateAfter(resumeStep);
        run.Samples.TruncateAfter(resumeStep);
        run.SaveInfo();
        return run;
    }

    public string ReadConfigJson() => File.ReadAllText(ConfigPath);

    /// <summary>Appends step <paramref name="step"/>'s metrics to metrics.jsonl (flushed before returning).</summary>
    public void LogMetrics(int step, IReadOnlyDictionary<string, double> values)
    {
        var record = new JsonObject { [MetricNames.Step] = step };
        foreach (var (key, value) in values)
            record[key] = double.IsFinite(value) ? value : null;
        Metrics.Append(record);
    }

    public List<MetricsRow> ReadMetrics() => Metrics.Read().Select(record => new MetricsRow(JsonlLog.StepOf(record),
        record.Where(kv => kv.Key != MetricNames.Step)
              .ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN))).ToList();

    /// <summary>Appends a sample completion (any object; its properties become snake_case keys) tagged with its step.</summary>
    public void LogSample(int step, object sample)
    {
        var record = new JsonObject { [MetricNames.Step] = step };
        if (JsonSerializer.SerializeToNode(sample, sample.GetType(), SnakeCase.Json) is not JsonObject fields)
            throw new ArgumentException("a sample must serialise to a JSON object", nameof(sample));
        foreach (var (key, value) in fields.ToList())
        {
            fields.Remove(key);
            record[key] = value;
        }
        Samples.Append(record);
    }

    /// <summary>Writes checkpoint <paramref name="step"/> atomically (see <see cref="RunCheckpoints.Save"/>).</summary>
    public CheckpointInfo SaveCheckpoint(int step, Action<string> write, int keepLast) => Checkpoints.Save(step, write, keepLast);

    public void WriteReport(string markdown) => AtomicFile.WriteAllText(ReportPath, markdown);

    /// <summary>Draws plots/&lt;metric&gt;.png for each metric present in metrics.jsonl; returns the files written.</summary>
    public List<string> WritePlots(IEnumerable<string>? metrics = null) =>
        RunPlots.Write(PlotsPath, ReadMetrics(), metrics ?? DefaultPlots);

    /// <summary>
    /// Ends the run: plots, report.md (a summary of final metrics and plots, then <paramref name="reportBody"/>),
    /// run.json and the index row. Final metrics default to the last row of metrics.jsonl.
    /// </summary>
    public void Finish(RunStatus status, IReadOnlyDictionary<string, double>? finalMetrics = null, string? reportBody = null)
    {
        var rows = ReadMetrics();
        info = info with
        {
            Status = status,
            EndedAt = DateTimeOffset.UtcNow,
            FinalMetrics = finalMetrics ?? rows.LastOrDefault()?.Values ?? new Dictionary<string, double>(),
        };
        var plots = RunPlots.Write(PlotsPath, rows, DefaultPlots);
        WriteReport(RunReport.Summary(info, rows.LastOrDefault()?.Step, plots.Select(p => System.IO.Path.GetRelativePath(Path, p)).ToList()) + (reportBody ?? ""));
        SaveInfo();
    }

    void SaveInfo()
    {
        var json = new JsonObject
        {
            ["name"] = info.Name,
            ["kind"] = info.Kind,
            ["status"] = RunStore.StatusName(info.Status),
            ["started_at"] = RunStore.Timestamp(info.StartedAt),
            ["ended_at"] = info.EndedAt is { } end ? RunStore.Timestamp(end) : null,
            ["pid"] = info.ProcessId,
            ["final_metrics"] = new JsonObject(info.FinalMetrics.Where(kv => double.IsFinite(kv.Value))
                .Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        AtomicFile.WriteAllText(System.IO.Path.Combine(Path, RunInfoFile), json.ToJsonString(SnakeCase.Json));
        Store.Upsert(info);
    }

    /// <summary>The run.json of folder <paramref name="path"/>, or null when it is not a run folder.</summary>
    public static RunRecord? ReadRunInfo(string path)
    {
        var file = System.IO.Path.Combine(path, RunInfoFile);
        if (!File.Exists(file))
            return null;
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            return new RunRecord(
                json["name"]!.GetValue<string>(), json["kind"]!.GetValue<string>(), System.IO.Path.GetFullPath(path),
                RunStore.ParseStatus(json["status"]!.GetValue<string>()),
                RunStore.ParseTimestamp(json["started_at"]!.GetValue<string>()),
                json["ended_at"] is JsonValue ended ? RunStore.ParseTimestamp(ended.GetValue<string>()) : null,
                json["final_metrics"]?.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>()) ?? [],
                json["pid"]?.GetValue<int>() ?? 0);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new R1Error($"{file}: not a valid run description: {e.Message}", e);
        }
    }
}
