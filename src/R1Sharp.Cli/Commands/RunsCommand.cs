using System.CommandLine;
using R1Sharp.Runs;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 runs</c>: the training runs indexed in the runs folder's runs.db.</summary>
public static class RunsCommand
{
    public static Command Create()
    {
        var dir = OptionFactory.PathWithDefault("--dir", RunStore.DefaultRoot, "Runs folder: holds runs.db and one folder per run ($R1_RUNS or ./runs)");
        var reindex = OptionFactory.WithDefault("--reindex", false, "Rebuild the index from the run folders' run.json files first");
        var command = new Command("runs", "List training runs: name, kind, status, start, duration, final metrics, cost, folder");
        command.Options.Add(dir);
        command.Options.Add(reindex);
        command.SetAction(parse =>
        {
            var root = parse.GetValue(dir)!;
            var cli = CliOutput.Of(parse);
            if (!Directory.Exists(root))
            {
                cli.Line($"no runs yet: {Path.GetFullPath(root)} does not exist");
                return 0;
            }
            var store = new RunStore(root, cli.Note);
            if (parse.GetValue(reindex))
                cli.Note($"indexed {store.Reindex()} run folder(s) in {store.Root}");
            Render(cli.Results, store.List(), store.Root);
            return 0;
        });
        return command;
    }

    public static void Render(IAnsiConsole console, IReadOnlyList<RunRecord> runs, string root)
    {
        if (runs.Count == 0)
        {
            console.WriteLine($"no runs indexed in {root} (r1 runs --reindex rebuilds the index from the run folders)");
            return;
        }
        var table = new Table().Title($"runs in {Markup.Escape(root)}")
            .AddColumns("name", "kind", "status", "started", "duration", "final metrics", "cost", "folder");
        foreach (var run in runs)
        {
            var duration = run.EndedAt is { } end ? RunReport.Duration(end - run.StartedAt) : "";
            var metrics = string.Join("  ", MetricNames.Headline.Where(k => run.FinalMetrics.ContainsKey(k.Key))
                .Select(k => $"{k.Label} {RunReport.Number(run.FinalMetrics[k.Key])}"));
            table.AddRow(Markup.Escape(run.Name), Markup.Escape(run.Kind), StatusMarkup(run.Status),
                run.StartedAt.ToLocalTime().ToString("yyyy-MM-dd HH:mm"), Markup.Escape(duration), Markup.Escape(metrics), Markup.Escape(run.Cost?.Short ?? ""),
                Markup.Escape(Path.GetRelativePath(Environment.CurrentDirectory, run.Path)));
        }
        console.Write(table);
    }

    static string StatusMarkup(RunStatus status) => status switch
    {
        RunStatus.Finished => "[green]finished[/]",
        RunStatus.Running => "[blue]running[/]",
        RunStatus.Failed => "[red]failed[/]",
        RunStatus.Interrupted => "[yellow]interrupted[/]",
        _ => status.ToString(),
    };
}
