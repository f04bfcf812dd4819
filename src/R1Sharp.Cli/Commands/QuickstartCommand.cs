using System.CommandLine;
using R1Sharp.Quickstart;
using R1Sharp.Runs;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 quickstart [--control]</c>: the main job, an R1-Zero run on this CPU, with no arguments needed.</summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var control = new Option<bool>("--control") { Description = "Add a control row: the base trained further on its own data for the RL stage's wall-clock" };
        var runsDir = OptionFactory.Optional<string>("--runs-dir", "Where run folders go (default: $R1_RUNS or ./runs)");
        var name = OptionFactory.Optional<string>("--name", "Run name (default: quickstart-<date>-<time>)");
        var configFile = OptionFactory.Optional<string>("--config", "JSON file overriding quickstart settings (keys as in report.json's config)");
        var tiny = new Option<bool>("--tiny") { Description = "A seconds-long miniature of the whole pipeline (for smoke tests)" };
        var command = new Command("quickstart", "Tokenizer, pretraining, GRPO and evaluation of a small reasoning model: R1-Zero on a laptop CPU")
            { control, runsDir, name, configFile, tiny };
        command.SetAction(parse =>
        {
            var config = parse.GetValue(tiny) ? QuickstartConfig.Tiny : new QuickstartConfig();
            if (parse.GetValue(configFile) is { } path) config = QuickstartConfig.Load(path);
            string root = parse.GetValue(runsDir) ?? RunStore.DefaultRoot;
            using var observer = new ConsoleObserver(AnsiConsole.Console);
            var (report, folder) = new QuickstartPipeline(config, root, observer).Run(parse.GetValue(control), parse.GetValue(name));
            AnsiConsole.WriteLine();
            AnsiConsole.Write(Table(report));
            AnsiConsole.MarkupLineInterpolated($"report: [bold]{Path.Combine(folder, "report.md")}[/] and {Path.Combine(folder, "report.json")} ({report.TotalSeconds:F0} s in all)");
            return 0;
        });
        return command;
    }

    static Table Table(QuickstartReport r)
    {
        var table = new Table().Title($"pass@1 over k = {r.SamplesPerPrompt} samples at T = {r.Temperature}")
            .AddColumn("model").AddColumn(new TableColumn("held-out pass@1").RightAligned()).AddColumn(new TableColumn($"held-out cons@{r.SamplesPerPrompt}").RightAligned())
            .AddColumn(new TableColumn("tokens").RightAligned()).AddColumn(new TableColumn("harder pass@1").RightAligned());
        void Row(string name, ModelScores m) => table.AddRow(name, $"{m.Heldout.Pass1:P1}", $"{m.Heldout.ConsAtK:P1}",
            $"{m.Heldout.MeanResponseTokens:F1}", $"{m.Harder.Pass1:P1}");
        Row("base", r.Base);
        Row("rl", r.Rl);
        if (r.Control is not null) Row("control", r.Control);
        return table;
    }

    /// <summary>Draws each stage with the training view; plain logs get every tenth step.</summary>
    internal sealed class ConsoleObserver(IAnsiConsole console) : IQuickstartObserver, IDisposable
    {
        TrainingView? view;

        public void StageStarted(string stage, int totalSteps)
        {
            view?.Dispose();
            view = null;
            // int.MaxValue steps: the stage runs until its time budget (the experiments' GRPO and distillation).
            if (totalSteps > 0) view = new TrainingView(console, stage, totalSteps == int.MaxValue ? 0 : totalSteps);
            else console.MarkupLineInterpolated($"[bold]{stage}[/] …");
        }

        public void Step(int step, IReadOnlyDictionary<string, double> metrics)
        {
            if (view is null) return;
            if (view.IsLive || step % 10 == 0 || step == 1) view.Update(step, metrics);
        }

        public void StageFinished(string stage, string summary)
        {
            view?.Dispose();
            view = null;
            console.MarkupLineInterpolated($"[green]{stage}[/]: {summary}");
        }

        public void Dispose() => view?.Dispose();
    }
}
