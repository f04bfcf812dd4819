using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Training;

namespace R1Sharp.Runs;

/// <summary>One step's metrics as read back from metrics.jsonl; a value logged as null (NaN, ∞) reads as NaN.</summary>
public sealed record MetricsRow(int Step, IReadOnlyDictionary<string, double> Values)
{
    /// <summary>The rows of metrics file <paramref name="path"/> (none when it does not exist).</summary>
    public static List<MetricsRow> Read(string path) => new JsonlLog(path).Read().Select(record => new MetricsRow(JsonlLog.StepOf(record),
        record.Where(kv => kv.Key != MetricNames.Step)
              .ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN))).ToList();
}

/// <summary>
/// The folder every training command writes, runs/&lt;name&gt;/:
/// run.json (name, kind, status, times, final metrics), config.json (the options, TRL keys for GRPO),
/// metrics.jsonl (one object per step), samples.jsonl (sample completions), checkpoints/step-NNNNNN/,
/// plots/*.png and report.md. It is registered in the <see cref="RunStore"/> of its parent folder.
/// A process that opens a run folder (to create or resume it) holds an OS lock on its run.lock until it finishes
/// the run or exits, however it exits; a second process that tries to open the same run is refused.
/// </summary>
public sealed class RunFolder : IDisposable
{
    public const string RunInfoFile = "run.json";
    public const string ConfigFile = "config.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string SamplesFile = "samples.jsonl";
    public const string ReportFile = "report.md";
    public const string LockFile = "run.lock";
    public const string CheckpointsDir = "checkpoints";
    public const string PlotsDir = "plots";

    /// <summary>Plotted by <see cref="Finish"/> when present: the curves that show whether a run learns.</summary>
    public static readonly string[] DefaultPlots =
        [MetricNames.Reward, MetricNames.Accuracy, MetricNames.MeanLength, MetricNames.Kl, MetricNames.Loss, MetricNames.EvalLoss];

    RunRecord info;
    FileStream? runLock;

    RunFolder(RunStore store, RunRecord info, FileStream runLock)
    {
        Store = store;
        this.info = info;
        this.runLock = runLock;
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

    /// <summary>
    /// Starts a new run in runsRoot/name, locked by this process: writes run.json and config.json and indexes it as
    /// running. An existing non-empty folder is an error (resume it, or pick another name). Without a name the run
    /// gets <see cref="DefaultName"/>, with -2, -3, ... added when runs started in the same second took it.
    /// </summary>
    public static RunFolder Create(string runsRoot, string? name, string kind, object config, Action<string>? notice = null)
    {
        if (name is not null && (name.Length == 0 || name.IndexOfAny(System.IO.Path.GetInvalidFileNameChars()) >= 0 || name is "." or ".."))
            throw new R1Error($"run name '{name}' cannot be a folder name");
        var store = new RunStore(runsRoot, notice);
        string stem = name ?? DefaultName(kind);
        for (int attempt = 1; ; attempt++)
        {
            string candidate = attempt == 1 ? stem : $"{stem}-{attempt}";
            var path = System.IO.Path.Combine(store.Root, candidate);
            if (TryClaim(path) is not { } claimed)
            {
                if (name is not null)
                    throw new R1Error($"run folder {path} already exists: resume it (--resume {name}) or choose another name");
                continue;
            }
            var run = new RunFolder(store, new RunRecord(candidate, kind, path, RunStatus.Running, DateTimeOffset.UtcNow, null,
                new Dictionary<string, double>(), Environment.ProcessId), claimed);
            try
            {
                run.WriteConfig(config);
                run.SaveInfo();
            }
            catch
            {
                // Nothing of the run exists yet: leave no folder behind, so the same name can be tried again.
                run.Dispose();
                Directory.Delete(path, recursive: true);
                throw;
            }
            return run;
        }
    }

    /// <summary>Makes folder <paramref name="path"/> and takes its lock, unless a run is there already (or another
    /// process is making one there at this moment): the lock file is created exclusively, so one process wins.</summary>
    static FileStream? TryClaim(string path)
    {
        if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any())
            return null;
        Directory.CreateDirectory(path);
        try
        {
            return new FileStream(System.IO.Path.Combine(path, LockFile), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(System.IO.Path.Combine(path, LockFile)))
        {
            return null;
        }
    }

    /// <summary>
    /// Opens runsRoot/name to continue it, locked by this process, without changing anything yet (see
    /// <see cref="Continue"/>). A run another process has open, and a finished run, are errors.
    /// </summary>
    public static RunFolder OpenToResume(string runsRoot, string name, Action<string>? notice = null)
    {
        var store = new RunStore(runsRoot, notice);
        var path = System.IO.Path.Combine(store.Root, name);
        if (ReadRunInfo(path) is null) throw new R1Error($"{path} is not a run folder (no {RunInfoFile})");
        FileStream runLock;
        try
        {
            runLock = new FileStream(System.IO.Path.Combine(path, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            var holder = ReadRunInfo(path)!.ProcessId;
            throw new R1Error($"run {name} is in use by another process{(holder > 0 ? $" (pid {holder})" : "")}: wait for it to end, or stop it and resume again", e);
        }
        var saved = ReadRunInfo(path)!;
        if (saved.Status == RunStatus.Finished)
        {
            runLock.Dispose();
            throw new R1Error($"run {name} already finished ({path}); there is nothing to resume — start a new run to train further");
        }
        return new RunFolder(store, saved, runLock);
    }

    /// <summary>
    /// Marks the run running again from its latest complete checkpoint (returned; null if none, which means start
    /// from step 0). Records past that step are cut from metrics.jsonl and samples.jsonl, so the steps that will be
    /// run again are logged once, as in a run that was never stopped.
    /// </summary>
    public CheckpointInfo? Continue()
    {
        info = info with { Status = RunStatus.Running, EndedAt = null, ProcessId = Environment.ProcessId };
        Checkpoints.RemoveUnfinished();
        var checkpoint = Checkpoints.Latest();
        int resumeStep = checkpoint?.Step ?? 0;
        Metrics.TruncateAfter(resumeStep);
        Samples.TruncateAfter(resumeStep);
        SaveInfo();
        return checkpoint;
    }

    /// <summary><see cref="OpenToResume"/> then <see cref="Continue"/>.</summary>
    public static RunFolder Resume(string runsRoot, string name, out CheckpointInfo? checkpoint)
    {
        var run = OpenToResume(runsRoot, name);
        checkpoint = run.Continue();
        return run;
    }

    /// <summary>Writes config.json: the run's options with their JSON keys.</summary>
    public void WriteConfig(object config) => AtomicFile.WriteAllText(ConfigPath, ConfigJson.Write(config));

    public string ReadConfigJson() => File.ReadAllText(ConfigPath);

    /// <summary>Appends step <paramref name="step"/>'s metrics to metrics.jsonl (flushed before returning).</summary>
    public void LogMetrics(int step, IReadOnlyDictionary<string, double> values)
    {
        var record = new JsonObject { [MetricNames.Step] = step };
        foreach (var (key, value) in values)
            record[key] = double.IsFinite(value) ? value : null;
        Metrics.Append(record);
    }

    public List<MetricsRow> ReadMetrics() => MetricsRow.Read(Metrics.Path);

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
    /// Ends the run: plots, report.md (a summary of final metrics, cost and plots, then <paramref name="reportBody"/>),
    /// run.json and the index row, then releases the lock. Final metrics default to the last row of metrics.jsonl.
    /// </summary>
    public void Finish(RunStatus status, IReadOnlyDictionary<string, double>? finalMetrics = null, string? reportBody = null, CostCard? cost = null)
    {
        var rows = ReadMetrics();
        info = info with
        {
            Status = status,
            EndedAt = DateTimeOffset.UtcNow,
            FinalMetrics = finalMetrics ?? rows.LastOrDefault()?.Values ?? new Dictionary<string, double>(),
            Cost = cost ?? info.Cost,
        };
        var plots = RunPlots.Write(PlotsPath, rows, DefaultPlots);
        WriteReport(RunReport.Summary(info, rows.LastOrDefault()?.Step, plots.Select(p => System.IO.Path.GetRelativePath(Path, p)).ToList()) + (reportBody ?? ""));
        SaveInfo();
        Dispose();
    }

    /// <summary>Releases the run's lock (at the end of the run; the OS does it when the process dies).</summary>
    public void Dispose()
    {
        runLock?.Dispose();
        runLock = null;
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
            ["cost"] = info.Cost is { } cost ? JsonSerializer.SerializeToNode(cost, SnakeCase.Report) : null,
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
                json["pid"]?.GetValue<int>() ?? 0,
                json["cost"] is JsonObject cost ? cost.Deserialize<CostCard>(SnakeCase.Report) : null);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new R1Error($"{file}: not a valid run description: {e.Message}", e);
        }
    }
}
