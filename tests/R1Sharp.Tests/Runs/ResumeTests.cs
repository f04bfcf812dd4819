using System.Globalization;
using R1Sharp.Runs;
using R1Sharp.Training;

namespace R1Sharp.Tests.Runs;

/// <summary>
/// A stand-in training loop whose state is a number and a data sampler: each step draws a prompt index and moves the
/// state, logs metrics, and checkpoints every few steps. Killing it and resuming must log exactly the metrics of a
/// run that was never killed.
/// </summary>
public class ResumeTests
{
    const int TotalSteps = 10, SaveEvery = 3;

    static void Train(RunFolder run, int fromStep, double state, ShuffledSampler sampler, int stopAfter)
    {
        for (int step = fromStep + 1; step <= Math.Min(TotalSteps, stopAfter); step++)
        {
            int prompt = sampler.Next();
            state = state * 0.9 + prompt;
            run.LogMetrics(step, new Dictionary<string, double> { ["state"] = state, ["prompt"] = prompt });
            if (step % SaveEvery == 0)
            {
                var (saved, position) = (state, sampler.State);
                run.SaveCheckpoint(step, dir =>
                {
                    File.WriteAllText(Path.Combine(dir, "state.txt"), saved.ToString("R", CultureInfo.InvariantCulture));
                    File.WriteAllText(Path.Combine(dir, "sampler.json"), position.ToJson());
                }, keepLast: 2);
            }
        }
    }

    [Fact]
    public void AKilledAndResumedRunLogsTheSameMetricsAsAnUnbrokenOne()
    {
        using var dir = new TempDir();
        var unbroken = RunFolder.Create(dir.Path, "unbroken", "test", new { seed = 5 });
        Train(unbroken, 0, 0, new ShuffledSampler(count: 4, seed: 5), stopAfter: TotalSteps);

        var killed = RunFolder.Create(dir.Path, "killed", "test", new { seed = 5 });
        Train(killed, 0, 0, new ShuffledSampler(count: 4, seed: 5), stopAfter: 8); // dies after step 8 ...
        File.AppendAllText(killed.Metrics.Path, "{\"step\":9,\"sta");                 // ... mid-write of step 9
        Directory.CreateDirectory(Path.Combine(killed.Checkpoints.Folder, ".tmp-step-000009.1.x")); // and mid-save
        killed.Dispose();                                                                       // the OS drops its lock

        var resumed = RunFolder.Resume(dir.Path, "killed", out var checkpoint);
        Assert.Equal(6, checkpoint!.Step);
        Assert.Equal([1, 2, 3, 4, 5, 6], resumed.ReadMetrics().Select(r => r.Step));
        Assert.DoesNotContain(Directory.GetDirectories(killed.Checkpoints.Folder), d => Path.GetFileName(d).StartsWith(".tmp"));
        var state = double.Parse(File.ReadAllText(Path.Combine(checkpoint.Path, "state.txt")), CultureInfo.InvariantCulture);
        var sampler = ShuffledSampler.FromState(4, RngState.FromJson(File.ReadAllText(Path.Combine(checkpoint.Path, "sampler.json")), "sampler.json"));
        Train(resumed, checkpoint.Step, state, sampler, stopAfter: TotalSteps);

        Assert.Equal(File.ReadAllText(unbroken.Metrics.Path), File.ReadAllText(resumed.Metrics.Path));
        Assert.Equal(RunStatus.Running, new RunStore(dir.Path).Find("killed")!.Status);
    }

    [Fact]
    public void ResumingARunWithoutCheckpointsStartsOverWithAnEmptyLog()
    {
        using var dir = new TempDir();
        var run = RunFolder.Create(dir.Path, "r", "test", new { });
        run.LogMetrics(1, new Dictionary<string, double> { ["x"] = 1 });
        run.Dispose();
        using var resumed = RunFolder.Resume(dir.Path, "r", out var checkpoint);
        Assert.Null(checkpoint);
        Assert.Empty(run.ReadMetrics());
        Assert.Throws<R1Error>(() => RunFolder.Resume(dir.Path, "missing", out _));
    }
}
