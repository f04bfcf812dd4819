using System.CommandLine;
using R1Sharp.Experiments;
using R1Sharp.Quickstart;
using R1Sharp.Runs;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 experiment distill-vs-rl</c>: DeepSeek-R1's "distillation beats RL for small models" (Table 6), on this CPU.</summary>
public static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "Reproduce an experiment of the DeepSeek-R1 paper at CPU scale");
        command.Subcommands.Add(DistillVsRl());
        return command;
    }

    static Command DistillVsRl()
    {
        var teacherRun = OptionFactory.OptionalPath("--teacher-run", "A finished r1 quickstart run folder (default: run the quickstart first)");
        var budget = OptionFactory.Optional<double?>("--budget-seconds", "Wall-clock for the student's GRPO, and for sampling + distillation (default 180)");
        var shape = OptionFactory.Optional<string>("--student-shape", "Student relative to the teacher: half (default) or quarter");
        var runsDir = OptionFactory.OptionalPath("--runs-dir", "Where run folders go (default: $R1_RUNS or ./runs)");
        var name = OptionFactory.Optional<string>("--name", "Run name (default: distill-vs-rl-<date>-<time>)");
        var configFile = OptionFactory.OptionalPath("--config", "JSON file of experiment settings (keys as in experiment.json's config)");
        var quickstartConfig = OptionFactory.OptionalPath("--quickstart-config", "Settings of the quickstart run that makes the teacher, when no --teacher-run (keys as r1 quickstart --config)");
        var tiny = new Option<bool>("--tiny") { Description = "A seconds-long miniature (tiny quickstart teacher, tiny budget) for smoke tests" };
        var command = new Command("distill-vs-rl",
            "From the quickstart's RL teacher, a smaller student: base, + GRPO, + distillation for the same wall-clock; R1's Table 6 on a CPU")
            { teacherRun, budget, shape, runsDir, name, configFile, quickstartConfig, tiny };
        var cost = CostFlags.AddTo(command);
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            bool isTiny = parse.GetValue(tiny);
            var config = new ConfigLayers<DistillVsRlConfig>(isTiny ? DistillVsRlConfig.Tiny : new DistillVsRlConfig(), parse.GetValue(configFile), c => c with
            {
                BudgetSeconds = parse.GetValue(budget) ?? c.BudgetSeconds,
                StudentShape = parse.GetValue(shape) ?? c.StudentShape,
            }).Resolve();
            string? teacher = parse.GetValue(teacherRun), qsPath = parse.GetValue(quickstartConfig);
            if (teacher is not null && qsPath is not null) throw new R1Error("--quickstart-config makes a new teacher; it cannot go with --teacher-run");
            if (teacher is not null && !Directory.Exists(teacher)) throw new R1Error($"{teacher}: teacher run folder not found");
            var teacherSettings = qsPath is not null ? QuickstartConfig.Load(qsPath, isTiny ? QuickstartConfig.Tiny : null)
                : isTiny ? QuickstartConfig.Tiny : null;
            string root = parse.GetValue(runsDir) ?? RunStore.DefaultRoot;
            var cli = CliOutput.Of(parse);
            using var observer = new ConsoleObserver(cli, plainEvery: 10);
            var (report, folder) = new DistillVsRlExperiment(config, root, observer).Run(teacher, parse.GetValue(name), teacherSettings, cancellation, cost.Resolve(parse));
            cli.Results.Write(Table(report));
            cli.Line(report.Verdict());
            cli.Line($"report: {Path.Combine(folder, "experiment.md")} and {Path.Combine(folder, "experiment.json")} ({report.TotalSeconds:F0} s in all)");
            return 0;
        }, CancellationToken.None));
        return command;
    }

    static Table Table(DistillVsRlReport r)
    {
        int k = r.SamplesPerPrompt;
        var table = new Table().Title(Markup.Escape($"pass@1 over k = {k} samples at T = {r.Temperature}; budget {r.BudgetSeconds:F0} s"))
            .AddColumn("model").AddColumn(new TableColumn("params").RightAligned())
            .AddColumn(new TableColumn("held-out pass@1").RightAligned()).AddColumn(new TableColumn($"held-out cons@{k}").RightAligned())
            .AddColumn(new TableColumn("harder pass@1").RightAligned()).AddColumn(new TableColumn($"harder cons@{k}").RightAligned())
            .AddColumn(new TableColumn("tokens").RightAligned()).AddColumn(new TableColumn("stage s").RightAligned());
        foreach (var row in r.Rows)
            table.AddRow(Markup.Escape(row.Model), $"{row.Parameters:N0}", $"{row.Heldout.Pass1:P1}", $"{row.Heldout.ConsAtK:P1}",
                $"{row.Harder.Pass1:P1}", $"{row.Harder.ConsAtK:P1}", $"{row.Heldout.MeanResponseTokens:F1}", $"{row.StageSeconds:F0}");
        return table;
    }
}
