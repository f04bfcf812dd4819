using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Arena;
using R1Sharp.Cli;
using R1Sharp.Tests.Distillation;
using R1Sharp.Tests.Server;

namespace R1Sharp.Tests.Arena;

/// <summary>
/// `r1 arena auto` between a strong and a weak model, judged by the checker: a tiny model trained to answer the prompts
/// (<see cref="TinyTeacher"/>, in this process and behind a real `r1 serve` as an endpoint contestant with an API key)
/// against an untrained one. The leaderboard must rank the trained one first and the untrained one last.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class AutoBattleTests : IDisposable
{
    readonly TempDir folder = new("r1-arena-auto-");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task Checker_judged_battles_rank_the_strong_model_above_the_weak_one()
    {
        string untrained = folder.File("untrained");
        Assert.Equal(0, CliApp.Run(["init", "--arch", "llama", "--preset", "tiny", "--out", untrained, "--seed", "9"]));
        await using var served = await ServerFixture.StartAsync(TinyTeacher.Directory, o => o with { ApiKey = "auto-key" });
        Environment.SetEnvironmentVariable("R1_ARENA_TEST_KEY", "auto-key");
        string config = folder.File("arena.json");
        File.WriteAllText(config, JsonSerializer.Serialize(new
        {
            contestants = new object[]
            {
                new { name = "trained", model = TinyTeacher.Directory },
                new { name = "trained-api", url = new Uri(served.BaseAddress, "v1").ToString(), endpoint_model = served.Service.ModelId, api_key_env = "R1_ARENA_TEST_KEY" },
                new { name = "untrained", model = untrained },
            },
            temperature = 0.6, max_tokens = 16,
        }));
        string prompts = TinyTeacher.PromptsFile(folder, 0, TinyTeacher.PromptCount);
        string db = folder.File("arena.db");

        var output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["arena", "auto", "--config", config, "--data", prompts, "--battles", "12", "--db", db, "--seed", "4"], output));
        Assert.Contains("12 battles on", output.ToString());

        var battles = ArenaStore.OpenExisting(db).All();
        Assert.Equal(12, battles.Count);
        Assert.All(battles, b =>
        {
            Assert.Equal(Judge.Checker, b.Judge);
            Assert.Equal("auto", b.Source);
            Assert.NotNull(b.Winner);
            Assert.NotNull(b.ReplyA);
            Assert.NotNull(b.ReplyB);
            Assert.StartsWith("p", b.Prompt);
            var extra = JsonNode.Parse(b.Extra)!;
            Assert.Equal("1", (string?)extra["answer"]);
            // The verdict is the checker's: one right wins, otherwise a tie.
            bool a = (bool)extra["correct_a"]!, bb = (bool)extra["correct_b"]!;
            Assert.Equal(a && !bb ? Winner.ModelA : bb && !a ? Winner.ModelB : a ? Winner.Tie : Winner.TieBothBad, b.Winner);
        });
        // Every pair fought as often as every other.
        Assert.All(battles.GroupBy(b => PairScheduler.Key(b.ModelA, b.ModelB)), pair => Assert.Equal(4, pair.Count()));
        // The endpoint's replies came through HTTP from the same trained model: it answers right as often.
        Assert.Contains(battles, b => b.ModelA == "trained-api" && (bool)JsonNode.Parse(b.Extra)!["correct_a"]!
                                   || b.ModelB == "trained-api" && (bool)JsonNode.Parse(b.Extra)!["correct_b"]!);

        var json = new StringWriter();
        Assert.Equal(0, CliApp.Run(["arena", "leaderboard", "--db", db, "--judge", "checker", "--bootstrap", "200", "--json"], json));
        var rows = JsonNode.Parse(json.ToString())!.AsArray().Select(r => r!.AsObject()).ToList();
        Assert.StartsWith("trained", (string)rows[0]["model"]!);
        Assert.Equal(1, (int)rows[0]["rank"]!);
        Assert.Equal("untrained", (string)rows[^1]["model"]!);
        Assert.True((int)rows[^1]["rank"]! > 1, json.ToString()); // its interval lies wholly below the trained ones'
        Assert.Equal(8, (int)rows[^1]["battles"]!);

        // Same seed, same battles: the local contestants' replies and the pairs repeat.
        string again = folder.File("again.db");
        Assert.Equal(0, CliApp.Run(["arena", "auto", "--config", config, "--data", prompts, "--battles", "12", "--db", again, "--seed", "4"], new StringWriter()));
        static string Local(Battle b) => $"{b.ModelA}|{b.ModelB}|{b.Prompt}|{(b.ModelA == "trained-api" ? "" : b.ReplyA!.Completion)}|{(b.ModelB == "trained-api" ? "" : b.ReplyB!.Completion)}";
        Assert.Equal(battles.Select(Local).Order(), ArenaStore.OpenExisting(again).All().Select(Local).Order());
    }
}
