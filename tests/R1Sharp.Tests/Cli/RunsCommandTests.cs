using R1Sharp.Cli.Commands;
using R1Sharp.Runs;

namespace R1Sharp.Tests.Cli;

public class RunsCommandTests
{
    [Fact]
    public void ListsEachRunWithStatusAndKeyMetrics()
    {
        var (console, output) = TrainingViewTests.Console(terminal: false);
        var now = DateTimeOffset.UtcNow;
        RunsCommand.Render(console,
        [
            new RunRecord("grpo-1", "grpo", "/r/grpo-1", RunStatus.Finished, now.AddMinutes(-5), now,
                new Dictionary<string, double> { ["accuracy"] = 0.875, ["kl"] = 0.01 }, Cost: CostCard.From(
                    new ComputeMeasurement(new ComputeWork(DecodeTokens: 10, DecodeFlops: 3.5e12), 300, 600, false), new CostRates { PricePerHour = 1.2 })),
            new RunRecord("sft-1", "sft", "/r/sft-1", RunStatus.Interrupted, now.AddMinutes(-9), null,
                new Dictionary<string, double>()),
        ], "/r");
        var text = output.ToString();
        Assert.Contains("grpo-1", text);
        Assert.Contains("finished", text);
        Assert.Contains("acc 0.875", text);
        Assert.Contains("5m00s", text);
        Assert.Contains("interrupted", text);
        Assert.Contains("$0.10", text);      // 5 minutes at $1.20 an hour
        Assert.Contains("3.5e+12", text);
    }

    [Fact]
    public void AnEmptyIndexSaysHowToRebuildIt()
    {
        var (console, output) = TrainingViewTests.Console(terminal: false);
        RunsCommand.Render(console, [], "/r");
        Assert.Contains("--reindex", output.ToString());
    }

    [Fact]
    public void Reindex_repairs_a_damaged_index()
    {
        using var dir = new TempDir();
        RunFolder.Create(dir.Path, "r", "sft", new { }).Finish(RunStatus.Finished);
        File.WriteAllText(Path.Combine(dir.Path, RunStore.FileName), "garbage");
        Assert.Equal(0, R1Sharp.Cli.CliApp.Run(["runs", "--dir", dir.Path, "--reindex"]));
        Assert.Equal("r", new RunStore(dir.Path).List().Single().Name);
    }
}
