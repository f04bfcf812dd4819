using System.Text.Json.Nodes;
using R1Sharp.Runs;
using R1Sharp.Training;

namespace R1Sharp.Tests.Runs;

public class RunFolderTests
{
    [Fact]
    public void CreateWritesConfigWithTrlKeysAndIndexesTheRunAsRunning()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "grpo-a", "grpo", new GrpoConfig { NumGenerations = 4 });

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "grpo-a", "config.json")))!;
        Assert.Equal(4, (int)config["num_generations"]!);
        Assert.Equal("dapo", (string)config["loss_type"]!);
        Assert.Equal(4, GrpoConfig.FromJson(run.ReadConfigJson(), run.ConfigPath).NumGenerations);

        var row = new RunStore(dir.Path).Find("grpo-a")!;
        Assert.Equal(("grpo", RunStatus.Running, run.Path), (row.Kind, row.Status, row.Path));
        Assert.True(File.Exists(Path.Combine(dir.Path, RunStore.FileName)));
    }

    [Fact]
    public void AnExistingRunIsNotOverwritten()
    {
        using var dir = new TempDir();
        RunFolder.Create(dir.Path, "r", "sft", new { lr = 1 });
        var e = Assert.Throws<R1Error>(() => RunFolder.Create(dir.Path, "r", "sft", new { lr = 2 }));
        Assert.Contains("already exists", e.Message);
        Assert.Throws<R1Error>(() => RunFolder.Create(dir.Path, "a/b", "sft", new { }));
    }

    [Fact]
    public void MetricsAndSamplesRoundTripOneLinePerRecord()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "r", "grpo", new GrpoConfig());
        run.LogMetrics(1, new Dictionary<string, double> { ["reward"] = 0.25, ["kl"] = double.NaN });
        run.LogMetrics(2, new Dictionary<string, double> { ["reward"] = 0.5 });
        run.LogSample(2, new { Prompt = "1+1=", Completion = "<think>1+1</think>2", Reward = 1.0 });

        var rows = run.ReadMetrics();
        Assert.Equal([1, 2], rows.Select(r => r.Step));
        Assert.Equal(0.25, rows[0].Values["reward"]);
        Assert.True(double.IsNaN(rows[0].Values["kl"]));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(run.Path, "metrics.jsonl")).Length);
        var sample = JsonNode.Parse(File.ReadAllLines(Path.Combine(run.Path, "samples.jsonl")).Single())!;
        Assert.Equal((2, "1+1=", 1.0), ((int)sample["step"]!, (string)sample["prompt"]!, (double)sample["reward"]!));
    }

    [Fact]
    public void CheckpointsAreWholeOrAbsentAndOnlyTheLastAreKept()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "r", "pretrain", new { });
        foreach (var step in new[] { 10, 20, 30 })
            run.SaveCheckpoint(step, d => File.WriteAllText(Path.Combine(d, "state.txt"), $"{step}"), keepLast: 2);
        Assert.Equal([20, 30], run.Checkpoints.List().Select(c => c.Step));
        Assert.Equal("30", File.ReadAllText(Path.Combine(run.Checkpoints.Latest()!.Path, "state.txt")));

        // A save that fails half-way leaves the previous latest checkpoint in charge and no partial folder.
        Assert.Throws<IOException>(() => run.SaveCheckpoint(40, d =>
        {
            File.WriteAllText(Path.Combine(d, "half.txt"), "x");
            throw new IOException("disk full");
        }, keepLast: 2));
        Assert.Equal(30, run.Checkpoints.Latest()!.Step);
        Assert.Equal(["step-000020", "step-000030"], Directory.GetDirectories(run.Checkpoints.Folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void FinishWritesPlotsReportAndFinalStatus()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "r", "grpo", new GrpoConfig());
        for (int step = 1; step <= 5; step++)
            run.LogMetrics(step, new Dictionary<string, double>
            {
                [MetricNames.Reward] = step / 10.0, [MetricNames.MeanLength] = 20 + step, [MetricNames.Accuracy] = step / 5.0,
            });
        run.Finish(RunStatus.Finished, reportBody: "## Notes\nall good\n");

        var png = File.ReadAllBytes(Path.Combine(run.PlotsPath, "completions_mean_length.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(File.Exists(Path.Combine(run.PlotsPath, "reward.png")));
        Assert.False(File.Exists(Path.Combine(run.PlotsPath, "kl.png"))); // never logged
        var report = File.ReadAllText(run.ReportPath);
        Assert.Contains("| reward | 0.5 |", report);
        Assert.Contains("![reward](plots/reward.png)", report);
        Assert.Contains("all good", report);

        var row = new RunStore(dir.Path).Find("r")!;
        Assert.Equal(RunStatus.Finished, row.Status);
        Assert.Equal(1.0, row.FinalMetrics[MetricNames.Accuracy]);
        Assert.NotNull(row.EndedAt);
    }

    [Fact]
    public void TheIndexCanBeRebuiltFromRunFolders()
    {
        using var dir = new TempDir();
        RunFolder.Create(dir.Path, "one", "sft", new { }).Finish(RunStatus.Failed);
        RunFolder.Create(dir.Path, "two", "grpo", new GrpoConfig());
        File.Delete(Path.Combine(dir.Path, RunStore.FileName));

        var store = new RunStore(dir.Path);
        Assert.Empty(store.List());
        Assert.Equal(2, store.Reindex());
        Assert.Equal(RunStatus.Failed, store.Find("one")!.Status);
        Assert.Equal("grpo", store.Find("two")!.Kind);
    }

    [Fact]
    public void ARunWhoseProcessIsGoneListsAsInterrupted()
    {
        using var dir = new TempDir();
        var store = new RunStore(dir.Path);
        store.Upsert(new RunRecord("killed", "grpo", Path.Combine(dir.Path, "killed"), RunStatus.Running,
            DateTimeOffset.UtcNow, null, new Dictionary<string, double>(), ProcessId: int.MaxValue));
        store.Upsert(new RunRecord("live", "grpo", Path.Combine(dir.Path, "live"), RunStatus.Running,
            DateTimeOffset.UtcNow, null, new Dictionary<string, double>(), Environment.ProcessId));
        Assert.Equal(RunStatus.Interrupted, store.Find("killed")!.Status);
        Assert.Equal(RunStatus.Running, store.Find("live")!.Status);
    }

    [Fact]
    public void ABadLineInTheMiddleOfALogNamesFileAndLine()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "m.jsonl");
        File.WriteAllText(path, "{\"step\":1}\nnot json\n{\"step\":3}\n");
        var e = Assert.Throws<R1Error>(() => new JsonlLog(path).Read());
        Assert.Contains("m.jsonl:2", e.Message);
    }

    [Fact]
    public void ARunFolderIsLockedWhileARunHasItOpen()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "r", "sft", new { });
        var e = Assert.Throws<R1Error>(() => RunFolder.OpenToResume(dir.Path, "r"));
        Assert.Contains("in use", e.Message);
        run.Dispose(); // as when its process exits, however it exits
        using var reopened = RunFolder.OpenToResume(dir.Path, "r");
        Assert.Throws<R1Error>(() => RunFolder.OpenToResume(dir.Path, "r"));
    }

    [Fact]
    public void AutomaticNamesStayUniqueWhenRunsStartInTheSameSecond()
    {
        using var dir = new TempDir();
        var runs = Enumerable.Range(0, 6).AsParallel().Select(_ => RunFolder.Create(dir.Path, null, "grpo", new { })).ToList();
        Assert.Equal(6, runs.Select(r => r.Path).Distinct().Count());
        Assert.All(runs, r => Assert.StartsWith("grpo-", r.Name));
        Assert.Equal(6, new RunStore(dir.Path).List().Count);
        foreach (var run in runs) run.Dispose();
    }

    [Fact]
    public void AFinishedRunIsNotResumedAndStaysAsItWas()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "done", "sft", new { });
        run.LogMetrics(1, new Dictionary<string, double> { [MetricNames.Loss] = 0.5 });
        run.Finish(RunStatus.Finished);
        string runJson = File.ReadAllText(Path.Combine(run.Path, RunFolder.RunInfoFile));
        var e = Assert.Throws<R1Error>(() => RunFolder.OpenToResume(dir.Path, "done"));
        Assert.Contains("already finished", e.Message);
        Assert.Equal(runJson, File.ReadAllText(Path.Combine(run.Path, RunFolder.RunInfoFile)));
        Assert.Equal(0.5, new RunStore(dir.Path).Find("done")!.FinalMetrics[MetricNames.Loss]);
    }

    [Fact]
    public void ADamagedIndexIsRebuiltFromTheRunFoldersAndSaysSo()
    {
        using var dir = new TempDir();
        RunFolder.Create(dir.Path, "one", "sft", new { }).Finish(RunStatus.Failed);
        RunFolder.Create(dir.Path, "two", "grpo", new GrpoConfig()).Finish(RunStatus.Finished);
        string db = Path.Combine(dir.Path, RunStore.FileName);

        // Not a database at all.
        File.WriteAllText(db, "this is not a SQLite file, just some text that got written over it");
        var notices = new List<string>();
        var store = new RunStore(dir.Path, notices.Add);
        Assert.Equal(["one", "two"], store.List().Select(r => r.Name).Order());
        Assert.Contains(notices, n => n.Contains("rebuilt") && n.Contains("2 run folder"));
        Assert.Equal(RunStatus.Failed, store.Find("one")!.Status);

        // A database whose pages were damaged in the middle: found when it is read.
        for (int i = 0; i < 200; i++) store.Upsert(new RunRecord($"ghost-{i}", "sft", Path.Combine(dir.Path, "ghost"), RunStatus.Finished,
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, new Dictionary<string, double> { ["loss"] = i }));
        var bytes = File.ReadAllBytes(db);
        Array.Fill(bytes, (byte)0xFF, 4096, Math.Min(8192, bytes.Length - 4096));
        File.WriteAllBytes(db, bytes);
        notices.Clear();
        Assert.Equal(["one", "two"], new RunStore(dir.Path, notices.Add).List().Select(r => r.Name).Order());
        Assert.Single(notices);
        Assert.NotEmpty(Directory.GetFiles(dir.Path, RunStore.FileName + ".damaged-*"));
    }

    [Fact]
    public void ReindexForgetsRunsWhoseFoldersAreGone()
    {
        using var dir = new TempDir();
        RunFolder.Create(dir.Path, "kept", "sft", new { }).Finish(RunStatus.Finished);
        RunFolder.Create(dir.Path, "deleted", "sft", new { }).Finish(RunStatus.Finished);
        Directory.Delete(Path.Combine(dir.Path, "deleted"), recursive: true);
        var store = new RunStore(dir.Path);
        Assert.Equal(1, store.Reindex());
        Assert.Equal(["kept"], store.List().Select(r => r.Name));
    }
}
