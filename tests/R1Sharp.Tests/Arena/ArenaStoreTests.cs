using System.Text.Json.Nodes;
using R1Sharp.Arena;
using R1Sharp.Cli;
using R1Sharp.Generation;

namespace R1Sharp.Tests.Arena;

/// <summary>The arena database, the pairing and the import of LMArena/FastChat battles.</summary>
public sealed class ArenaStoreTests : IDisposable
{
    readonly TempDir folder = new("r1-arena-store-");

    public void Dispose() => folder.Dispose();

    string File(string name) => Path.Combine(folder, name);

    [Fact]
    public void A_battle_is_stored_whole_takes_one_vote_and_counts_for_its_judge()
    {
        var store = ArenaStore.Open(File("arena.db"));
        var battle = new Battle(Battle.NewId(), "base", "rl", Judge.Human, DateTimeOffset.UtcNow)
        {
            Prompt = "What is 2+2?",
            ReplyA = new ContestantReply("two and two", "4", FinishReason.Stop),
            ReplyB = new ContestantReply("", "5", FinishReason.Length),
        };
        store.Add(battle);
        var judged = new Battle(Battle.NewId(), "rl", "base", Judge.Checker, DateTimeOffset.UtcNow) { Winner = Winner.ModelA, Source = "auto" };
        store.Add(judged);

        Assert.Empty(store.Outcomes(Judge.Human)); // no vote yet; the checker's battle came decided
        Assert.Equal(VoteResult.Recorded, store.Vote(battle.Id, Winner.ModelB, "voter1", DateTimeOffset.UtcNow));
        Assert.Equal(VoteResult.AlreadyDecided, store.Vote(battle.Id, Winner.ModelA, "voter2", DateTimeOffset.UtcNow));
        Assert.Equal(VoteResult.AlreadyDecided, store.Vote(judged.Id, Winner.ModelB, "voter2", DateTimeOffset.UtcNow));
        Assert.Equal(VoteResult.NotFound, store.Vote("nope", Winner.ModelA, "voter2", DateTimeOffset.UtcNow));

        var found = store.Find(battle.Id)!;
        Assert.Equal(Winner.ModelB, found.Winner);
        Assert.Equal("voter1", found.Voter);
        Assert.Equal("What is 2+2?", found.Prompt);
        Assert.Equal(battle.ReplyA, found.ReplyA);
        Assert.Equal(battle.ReplyB, found.ReplyB);
        Assert.NotNull(found.VotedAt);
        Assert.Equal([new BattleOutcome("base", "rl", Winner.ModelB)], store.Outcomes(Judge.Human));
        Assert.Equal([new BattleOutcome("rl", "base", Winner.ModelA)], store.Outcomes(Judge.Checker));
        Assert.Equal(2, store.Outcomes(null).Count);
        Assert.Equal(1, store.PairCounts(Judge.Human)[PairScheduler.Key("rl", "base")]);
        Assert.Equal(2, store.DecidedCount(null));
    }

    [Fact]
    public void A_missing_database_or_a_file_that_is_not_one_is_a_clear_error()
    {
        var missing = Assert.Throws<R1Error>(() => ArenaStore.OpenExisting(File("missing.db")));
        Assert.Contains("missing.db", missing.Message);
        System.IO.File.WriteAllText(File("text.db"), "just some text, long enough to have a header page of its own ..........................................................");
        var notDb = Assert.Throws<R1Error>(() => ArenaStore.Open(File("text.db")));
        Assert.Contains("not an arena database", notDb.Message);
        Assert.Equal(2, CliApp.Run(["arena", "leaderboard", "--db", File("missing.db")]));
    }

    [Fact]
    public void Pairing_keeps_every_pairs_count_even_starting_from_the_least_played()
    {
        string[] names = ["a", "b", "c", "d"];
        var played = new Dictionary<(string, string), int> { [PairScheduler.Key("b", "a")] = 3, [PairScheduler.Key("c", "d")] = 1 };
        var pairs = new PairScheduler(names, played, seed: 7);
        var counts = () => (from i in names from j in names where string.CompareOrdinal(i, j) < 0 select pairs.Count(i, j)).ToArray();
        var sides = new HashSet<(string, string)>();
        for (int n = 0; n < 60; n++)
        {
            int least = counts().Min();
            var (a, b) = pairs.Next();
            Assert.Equal(least + 1, pairs.Count(a, b)); // the drawn pair was among the least played
            sides.Add((a, b));
            if (n >= 8) Assert.True(counts().Max() - counts().Min() <= 1, string.Join(",", counts()));
        }
        Assert.Equal(12, sides.Count); // every pair, each way round: the side is drawn too
        var again = new PairScheduler(names, played, seed: 7);
        var first = new PairScheduler(names, played, seed: 7);
        Assert.Equal(Enumerable.Range(0, 20).Select(_ => first.Next()), Enumerable.Range(0, 20).Select(_ => again.Next()));
        // A battle that was not played is given back.
        var (x, y) = again.Next();
        int before = again.Count(x, y);
        again.Release(x, y);
        Assert.Equal(before - 1, again.Count(x, y));
    }

    [Fact]
    public void Fastchat_battles_import_with_their_other_fields_kept_and_rate()
    {
        string path = File("battles.jsonl");
        System.IO.File.WriteAllLines(path,
        [
            """{"model_a": "gpt-4", "model_b": "claude-1", "winner": "model_a", "tstamp": 1690000000.5, "judge": "arena_user_7", "language": "English", "turn": 1}""",
            "",
            """{"model_a": "claude-1", "model_b": "gpt-4", "winner": "tie"}""",
            """{"model_a": "vicuna", "model_b": "gpt-4", "winner": "model_b", "conversation_a": [{"role": "user", "content": "hi"}]}""",
            """{"model_a": "vicuna", "model_b": "claude-1", "winner": "tie (bothbad)"}""",
        ]);
        var output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["arena", "import", "--jsonl", path, "--db", File("arena.db")], output));
        Assert.Contains("imported 4 battles", output.ToString());

        var battles = ArenaStore.OpenExisting(File("arena.db")).All();
        Assert.Equal(4, battles.Count);
        Assert.All(battles, b => Assert.Equal(Judge.Human, b.Judge));
        var first = battles.Single(b => b.Winner == Winner.ModelA);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1690000000500), first.CreatedAt);
        var extra = JsonNode.Parse(first.Extra)!.AsObject();
        Assert.Equal("arena_user_7", (string?)extra["judge"]);
        Assert.Equal("English", (string?)extra["language"]);
        Assert.False(extra.ContainsKey("model_a"));
        Assert.Equal(Winner.TieBothBad, battles.Single(b => b.ModelA == "vicuna" && b.ModelB == "claude-1").Winner);

        var json = new StringWriter();
        Assert.Equal(0, CliApp.Run(["arena", "leaderboard", "--db", File("arena.db"), "--bootstrap", "100", "--json"], json));
        var rows = JsonNode.Parse(json.ToString())!.AsArray();
        Assert.Equal(["gpt-4", "claude-1", "vicuna"], rows.Select(r => (string)r!["model"]!));
        foreach (var row in rows)
            Assert.Equal(["model", "rating", "ci_low", "ci_high", "battles", "rank"], row!.AsObject().Select(p => p.Key));
        Assert.Equal(0, CliApp.Run(["arena", "leaderboard", "--db", File("arena.db"), "--judge", "checker"], new StringWriter()));
        Assert.Equal(2, CliApp.Run(["arena", "leaderboard", "--db", File("arena.db"), "--judge", "robots"], new StringWriter()));
    }

    [Theory]
    [InlineData("""{"model_a": "x", "model_b": "y", "winner": "model_c"}""", "winner must be")]
    [InlineData("""{"model_a": "x", "winner": "tie"}""", "model_b must be a model name")]
    [InlineData("""{"model_a": "x", "model_b": "x", "winner": "tie"}""", "the same model")]
    [InlineData("""{"model_a": "x\u001b[31m", "model_b": "y", "winner": "tie"}""", "printable")]
    [InlineData("""{"model_a": "x", "model_b": "y", "winner": "tie\ud800"}""", "not valid Unicode")]
    [InlineData("""["model_a", "model_b"]""", "expected a JSON object")]
    [InlineData("""{"model_a": "x", "model_b": "y", "winner": "tie", "winner": "model_a"}""", "not valid JSON")]
    [InlineData("""{"model_a": "x",""", "not valid JSON")]
    public void A_bad_line_stops_the_import_naming_its_line_and_stores_nothing(string bad, string problem)
    {
        string path = File("bad.jsonl");
        System.IO.File.WriteAllLines(path, ["""{"model_a": "a", "model_b": "b", "winner": "model_a"}""", "", bad, """{"model_a": "a", "model_b": "b", "winner": "tie"}"""]);
        var store = ArenaStore.Open(File("arena.db"));
        var error = Assert.Throws<R1Error>(() => BattleImport.Import(path, store));
        Assert.StartsWith($"{path}:3: ", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Empty(store.All());
    }

    [Fact]
    public void An_overlong_line_or_bytes_that_are_not_utf8_are_refused_with_the_line_number()
    {
        string path = File("long.jsonl");
        using (var writer = new StreamWriter(path))
        {
            writer.WriteLine("""{"model_a": "a", "model_b": "b", "winner": "model_a"}""");
            writer.Write("{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_a\", \"note\": \"");
            writer.Write(new string('x', BattleImport.MaxLineBytes));
            writer.WriteLine("\"}");
        }
        var store = ArenaStore.Open(File("arena.db"));
        var error = Assert.Throws<R1Error>(() => BattleImport.Import(path, store));
        Assert.StartsWith($"{path}:2: line longer than", error.Message);

        System.IO.File.WriteAllBytes(path, [.. "{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"tie\"}\n{\"model_a\": \""u8, 0xFF, .. "\"}\n"u8]);
        Assert.StartsWith($"{path}:2: not UTF-8", Assert.Throws<R1Error>(() => BattleImport.Import(path, store)).Message);
        Assert.Empty(store.All());
        Assert.Equal(2, CliApp.Run(["arena", "import", "--jsonl", path, "--db", File("arena.db")], new StringWriter()));
    }
}
