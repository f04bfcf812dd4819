using System.CommandLine;
using R1Sharp.Quickstart;
using R1Sharp.Runs;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 quickstart [--control]</c>: the main job, an R1-Zero run on this CPU, with no arguments needed;
/// <c>r1 quickstart corpus --out FILE</c> writes its pretraining text for `r1 pretrain`.</summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var control = new Option<bool>("--control") { Description = "Add a control row: the base trained further on its own data for the RL stage's wall-clock" };
        var runsDir = OptionFactory.OptionalPath("--runs-dir", "Where run folders go (default: $R1_RUNS or ./runs)");
        var name = OptionFactory.Optional<string>("--name", "Run name (default: quickstart-<date>-<time>)");
        var configFile = OptionFactory.OptionalPath("--config", "JSON file overriding quickstart settings (keys as in report.json's config)");
        var tiny = new Option<bool>("--tiny") { Description = "A seconds-long miniature of the whole pipeline (for smoke tests)" };
        var command = new Command("quickstart", "Tokenizer, pretraining, GRPO and evaluation of a small reasoning model: R1-Zero on a laptop CPU")
            { control, runsDir, name, configFile, tiny, Corpus() };
        var cost = CostFlags.AddTo(command);
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            // --tiny picks the built-in defaults the config file and flags go over.
            var config = Settings(parse, configFile, tiny);
            string root = parse.GetValue(runsDir) ?? RunStore.DefaultRoot;
            var cli = CliOutput.Of(parse);
            using var observer = new ConsoleObserver(cli, plainEvery: 10);
            var (report, folder) = new QuickstartPipeline(config, root, observer).Run(parse.GetValue(control), parse.GetValue(name), cancellation, cost.Resolve(parse));
            cli.Results.Write(Table(report));
            cli.Line($"report: {Path.Combine(folder, "report.md")} and {Path.Combine(folder, "report.json")} ({report.TotalSeconds:F0} s in all)");
            return 0;
        }, CancellationToken.None));
        return command;
    }

    /// <summary>Settings of --config over the defaults, or over --tiny's.</summary>
    static QuickstartConfig Settings(ParseResult parse, Option<string?> configFile, Option<bool> tiny) =>
        new ConfigLayers<QuickstartConfig>(parse.GetValue(tiny) ? QuickstartConfig.Tiny : new QuickstartConfig(), parse.GetValue(configFile)).Resolve();

    /// <summary>`r1 quickstart corpus`: the pretraining documents as JSONL {"text"} (direct_share and harder_direct_share 1: direct answers only).</summary>
    static Command Corpus()
    {
        var output = OptionFactory.RequiredPath("--out", "JSONL file of {\"text\"} documents for r1 pretrain");
        var configFile = OptionFactory.OptionalPath("--config", "JSON file of quickstart settings (e.g. {\"direct_share\": 1, \"harder_direct_share\": 1} for direct answers only)");
        var tiny = new Option<bool>("--tiny") { Description = "The --tiny quickstart's corpus (400 documents)" };
        var command = new Command("corpus", "Write the quickstart's pretraining text (addition problems in the R1 chat format) for r1 pretrain")
            { output, configFile, tiny };
        command.SetAction(parse =>
        {
            var config = Settings(parse, configFile, tiny);
            int written = QuickstartCorpus.WriteJsonl(config, parse.GetValue(output)!);
            CliOutput.Of(parse).Line($"wrote {written:N0} documents to {parse.GetValue(output)} ({config.DirectShare:P0} answered directly, " +
                                     $"{config.MinDigits}-{config.MaxDigits} digits and {config.HarderShareInPretraining:P0} with {config.MaxDigits + 1})");
            return 0;
        });
        return command;
    }

    static Table Table(QuickstartReport r)
    {
        var table = new Table().Title(Markup.Escape($"pass@1 over k = {r.SamplesPerPrompt} samples at T = {r.Temperature}"))
            .AddColumn("model").AddColumn(new TableColumn("held-out pass@1").RightAligned()).AddColumn(new TableColumn($"held-out cons@{r.SamplesPerPrompt}").RightAligned())
            .AddColumn(new TableColumn("tokens").RightAligned()).AddColumn(new TableColumn("harder pass@1").RightAligned());
        void Row(string name, ModelScores m) => table.AddRow(name, $"{m.Heldout.Pass1:P1}", $"{m.Heldout.ConsAtK:P1}",
            $"{m.Heldout.MeanResponseTokens:F1}", $"{m.Harder.Pass1:P1}");
        Row("base", r.Base);
        Row("rl", r.Rl);
        if (r.Control is not null) Row("control", r.Control);
        return table;
    }
}
