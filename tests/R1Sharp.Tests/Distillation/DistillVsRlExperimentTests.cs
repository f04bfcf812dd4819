using R1Sharp.Cli;
using R1Sharp.Experiments;

namespace R1Sharp.Tests.Distillation;

public class DistillVsRlExperimentTests
{
    [Fact]
    public void The_tiny_experiment_runs_end_to_end_and_writes_table_6()
    {
        using var runs = new TempDir("r1-experiment-");
        // --tiny's settings < the file's < the flag's.
        File.WriteAllText(runs.File("experiment.json"), """{"sample_prompts": 6, "budget_seconds": 60}""");
        Assert.Equal(0, CliApp.Run(["experiment", "distill-vs-rl", "--tiny", "--config", runs.File("experiment.json"), "--budget-seconds", "3",
            "--runs-dir", runs, "--name", "e", "--h100-price-per-hour", "4"]));
        var report = DistillVsRlReport.Load(Path.Combine(runs, "e", "experiment.json"));
        // Its cost card holds every stage, the teacher's quickstart (a run of its own, with its own card) included.
        var cost = report.Cost!;
        Assert.Equal(4, cost.Rates.H100PricePerHour);
        Assert.Equal(cost.Flops, cost.Stages!.Values.Sum(s => s.Flops), 6);
        var teacherCost = R1Sharp.Runs.RunFolder.ReadRunInfo(Path.Combine(runs, "e-teacher"))!.Cost!;
        Assert.Equal(teacherCost.Flops, cost.Stages["teacher (quickstart)"].Flops, 6);
        Assert.Equal(4, teacherCost.Rates.H100PricePerHour);
        Assert.True(cost.Stages["sample teacher"].Work.DecodeTokens > 0 && cost.Stages["student distill"].Work.TrainingTokens > 0);
        Assert.Equal((6, 3.0, DistillVsRlConfig.Tiny.Keep), (report.Config.SamplePrompts, report.Config.BudgetSeconds, report.Config.Keep));
        Assert.Equal([DistillVsRlExperiment.StudentBase, DistillVsRlExperiment.StudentRl, DistillVsRlExperiment.StudentDistilled,
            DistillVsRlExperiment.StudentLogit, DistillVsRlExperiment.Teacher], report.Rows.Select(r => r.Model));
        var teacher = report.Row(DistillVsRlExperiment.Teacher);
        Assert.All(report.Rows.Where(r => r != teacher), r => Assert.True(r.Parameters < teacher.Parameters));
        Assert.All(report.Rows, r => Assert.True(r.Steps > 0 && r.StageSeconds > 0 && r.TotalSeconds >= r.StageSeconds));
        Assert.Equal(Path.GetFullPath(Path.Combine(runs, "e-teacher")), report.TeacherRun);
        Assert.True(report.Row(DistillVsRlExperiment.StudentDistilled).StageSeconds >= report.SamplingSeconds);
        string markdown = File.ReadAllText(Path.Combine(runs, "e", "experiment.md"));
        Assert.Contains("| model | parameters | held-out pass@1 | held-out cons@2 | harder pass@1 |", markdown);
        Assert.Contains(report.Verdict(), markdown);
        Assert.True(File.Exists(Path.Combine(runs, "e", "traces.summary.json")));

        // r1 sample --task quickstart reads the task's digits from the model's quickstart run.
        string traces = Path.Combine(runs, "quickstart-traces.jsonl");
        Assert.Equal(0, CliApp.Run(["sample", "--model", Path.Combine(runs, "e-teacher", "models", "rl"), "--task", "quickstart",
            "--samples", "2", "--prompts", "3", "--max-tokens", "8", "--keep", "all", "--out", traces]));
        Assert.All(File.ReadAllLines(traces), line => Assert.Contains("What is", line));

        // A folder that is not a finished quickstart run is refused as a teacher.
        Assert.Equal(2, CliApp.Run(["experiment", "distill-vs-rl", "--tiny", "--runs-dir", runs, "--name", "e2", "--teacher-run", Path.Combine(runs, "e")]));
    }
}
