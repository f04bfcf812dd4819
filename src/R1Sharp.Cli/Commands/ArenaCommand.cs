using System.CommandLine;
using R1Sharp.Arena;
using R1Sharp.Server;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 arena serve | auto | import | leaderboard</c>: blind battles on a web page, battles judged by a task's checker,
/// published battles imported, and Bradley–Terry ratings with bootstrap intervals (src/R1Sharp/Arena, docs/arena.md).
/// </summary>
public static class ArenaCommand
{
    const string DbHelp = "Arena database (SQLite; created if missing)";

    public static Command Create() => new("arena", "Blind battles between models (web page or checker-judged) and a Bradley–Terry leaderboard")
    {
        Serve(), Auto(), Import(), Leaderboard(),
    };

    static Command Serve()
    {
        var config = OptionFactory.RequiredPath("--config", "arena.json: the contestants and their sampling settings");
        var host = ServeCommand.Host("the arena");
        var port = ServeCommand.Port();
        var db = OptionFactory.PathWithDefault("--db", ArenaStore.DefaultFileName, DbHelp);
        var guards = ServeCommand.Guards.Create("the arena's API (battles, votes, the leaderboard's data)");
        var seed = OptionFactory.Optional<int?>("--seed", "Seed of the pairing (default: a fresh one, so voters cannot foresee the sides)");
        var command = new Command("serve", "The arena page at /arena: a prompt goes to two anonymous contestants, you vote, the names are revealed; leaderboard at /arena/leaderboard")
        {
            config, host, port, db, guards.ApiKey, guards.ApiKeyFile, guards.AllowedHosts, seed,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var options = new ArenaServerOptions(parse.GetValue(db)!)
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), Seed = parse.GetValue(seed),
                ApiKey = guards.Key(parse), AllowedHosts = guards.Hosts(parse),
            };
            var arena = ArenaConfig.Load(parse.GetValue(config)!);
            await using var server = await ServeCommand.Listen(options.Host, options.Port, () => ArenaServer.StartAsync(arena, options, cancellation));
            CliOutput.Of(parse).Line($"arena of {arena.Contestants.Count} contestants at {server.BaseAddress}arena, leaderboard at {server.BaseAddress}arena/leaderboard, votes in {options.DatabasePath} — Ctrl+C stops");
            await server.WaitForShutdownAsync(cancellation);
            return 0;
        });
        return command;
    }

    static Command Auto()
    {
        var config = OptionFactory.RequiredPath("--config", "arena.json: the contestants and their sampling settings");
        var task = OptionFactory.Optional<string>("--task", TaskSource.TaskHelp);
        var data = OptionFactory.OptionalPath("--data", "Dataset file (.jsonl or .parquet; GSM8K, MATH or {prompt|messages, answer})");
        var battles = OptionFactory.Required<int>("--battles", "Battles to play").AtLeast(1);
        var db = OptionFactory.PathWithDefault("--db", ArenaStore.DefaultFileName, DbHelp);
        var seed = OptionFactory.WithDefault("--seed", 0, "Seed of pairs, prompts and sampling; same seed, same battles");
        var command = new Command("auto", "Battles on verifiable prompts judged by the task's checker (one right wins; both right or both wrong is a tie)")
        {
            config, task, data, battles, db, seed,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            int count = parse.GetValue(battles);
            var arena = ArenaConfig.Load(parse.GetValue(config)!);
            if (parse.GetValue(task) is null == parse.GetValue(data) is null) throw new R1Error("give exactly one of --task and --data");
            var store = ArenaStore.Open(parse.GetValue(db)!);
            using var contestants = ArenaContestants.Load(arena);
            var source = TaskSource.Resolve(parse.GetValue(task), parse.GetValue(data), contestants.FirstLocalModel ?? "");
            var output = CliOutput.Of(parse).Out;
            int done = 0;
            var played = await AutoBattles.RunAsync(contestants, source, store, count, parse.GetValue(seed), battle =>
            {
                int n = Interlocked.Increment(ref done);
                lock (output) output.WriteLine($"[{n}/{count}] {battle.ModelA} vs {battle.ModelB}: {Verdict(battle)}");
            }, cancellation);
            output.WriteLine($"{played.Count} battles on {source.Name} judged by the checker, stored in {store.Path}:");
            foreach (var name in arena.Contestants.Select(c => c.Name))
            {
                var mine = played.Where(b => b.ModelA == name || b.ModelB == name).ToList();
                int wins = mine.Count(b => b.Winner == Winner.ModelA && b.ModelA == name || b.Winner == Winner.ModelB && b.ModelB == name);
                int ties = mine.Count(b => b.Winner is Winner.Tie or Winner.TieBothBad);
                output.WriteLine($"  {name}: {mine.Count} battles, {wins} won, {ties} tied, {mine.Count - wins - ties} lost");
            }
            output.WriteLine($"ratings: r1 arena leaderboard --db {store.Path} --judge checker");
            return 0;
        });
        return command;
    }

    static string Verdict(Battle battle) => battle.Winner switch
    {
        Winner.ModelA => $"{battle.ModelA} wins",
        Winner.ModelB => $"{battle.ModelB} wins",
        Winner.Tie => "tie (both right)",
        _ => "tie (both wrong)",
    };

    static Command Import()
    {
        var jsonl = OptionFactory.RequiredPath("--jsonl", "Battles as LMArena/FastChat publish them: {\"model_a\", \"model_b\", \"winner\", …} per line");
        var db = OptionFactory.PathWithDefault("--db", ArenaStore.DefaultFileName, DbHelp);
        var command = new Command("import", "Import battles in LMArena/FastChat's layout (winner: model_a, model_b, tie, tie (bothbad)); other fields are kept")
        {
            jsonl, db,
        };
        command.SetAction(parse =>
        {
            var store = ArenaStore.Open(parse.GetValue(db)!);
            int count = BattleImport.Import(parse.GetValue(jsonl)!, store);
            CliOutput.Of(parse).Line($"imported {count} battles into {store.Path}");
            return 0;
        });
        return command;
    }

    static Command Leaderboard()
    {
        var db = OptionFactory.PathWithDefault("--db", ArenaStore.DefaultFileName, "Arena database");
        var judge = OptionFactory.WithDefault("--judge", "all", "Battles to rate: human (votes, imports), checker (r1 arena auto) or all");
        var bootstrap = OptionFactory.WithDefault("--bootstrap", 1000, "Bootstrap rounds for the 95% intervals (0: none)");
        var json = OptionFactory.WithDefault("--json", false, "Print [{\"model\", \"rating\", \"ci_low\", \"ci_high\", \"battles\", \"rank\"}, …], best first");
        var command = new Command("leaderboard", "Bradley–Terry ratings (Elo scale, mean 1000) with 95% bootstrap intervals, ranks and the pairwise win rates")
        {
            db, judge, bootstrap, json,
        };
        command.SetAction(parse =>
        {
            var filter = ArenaNames.ParseJudge(parse.GetValue(judge)!, "--judge");
            var store = ArenaStore.OpenExisting(parse.GetValue(db)!);
            var board = R1Sharp.Arena.Leaderboard.Compute(store.Outcomes(filter), parse.GetValue(bootstrap));
            var cli = CliOutput.Of(parse);
            if (parse.GetValue(json))
            {
                cli.Line(board.RowsJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            var console = cli.Results;
            string judged = filter is { } j ? ArenaNames.Name(j) : "all";
            if (board.Rows.Count == 0)
            {
                cli.Line($"no decided battles (judge: {judged}) in {store.Path}");
                return 0;
            }
            var table = new Table().Title(Markup.Escape($"{board.Battles} battles (judge: {judged}), {board.BootstrapRounds} bootstrap rounds"))
                .AddColumn(new TableColumn("rank").RightAligned()).AddColumn("model").AddColumn(new TableColumn("rating").RightAligned())
                .AddColumn(new TableColumn("95% interval").RightAligned()).AddColumn(new TableColumn("battles").RightAligned());
            foreach (var row in board.Rows)
                table.AddRow(row.Rank.ToString(), Markup.Escape(row.Model), $"{row.Rating:F1}", $"{row.CiLow:F1} – {row.CiHigh:F1}", row.Battles.ToString());
            console.Write(table);

            var matrix = new Table().Title("win rate of the row's model against the column's (ties count half)").AddColumn("");
            foreach (var model in board.Models) matrix.AddColumn(new TableColumn(Markup.Escape(model)).RightAligned());
            for (int i = 0; i < board.Models.Count; i++)
                matrix.AddRow([Markup.Escape(board.Models[i]), .. board.WinRates[i].Select(rate => rate is { } r ? $"{r:F2}" : "–")]);
            console.Write(matrix);
            console.MarkupLine(Markup.Escape($"Bradley–Terry by maximum likelihood on the Elo scale (400 points per factor 10 of odds, mean {BradleyTerry.MeanRating}), " +
                $"normal prior of SD {BradleyTerry.PriorSdElo} points; rank = 1 + models whose interval lies wholly above."));
            return 0;
        });
        return command;
    }
}
