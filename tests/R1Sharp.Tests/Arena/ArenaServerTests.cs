using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using R1Sharp.Arena;
using R1Sharp.Remote;
using R1Sharp.Server;
using R1Sharp.Tests.Server;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Arena;

/// <summary>
/// `r1 arena serve` over HTTP on loopback: a battle streams both sides without naming them, is stored, takes one vote
/// (409 after), and the API obeys the same guards as `r1 serve` (API key, JSON Content-Type, Host). Also the endpoint
/// contestant against a real `r1 serve`.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class ArenaServerTests : IDisposable
{
    readonly TempDir folder = new("r1-arena-server-");

    public void Dispose() => folder.Dispose();

    /// <summary>The reasoning model (twice, sampled differently: loaded once) and the random one, greedy and short.</summary>
    ArenaConfig Config() => ArenaConfig.Parse(JsonSerializer.Serialize(new
    {
        contestants = new object[]
        {
            new { name = "reasoner", model = ServerTestModels.ReasoningDir },
            new { name = "reasoner-hot", model = ServerTestModels.ReasoningDir, temperature = 1.0 },
            new { name = "noise", model = ServerTestModels.RandomDir, max_tokens = 12 },
        },
        temperature = 0, max_tokens = 100,
    }), "arena.json", folder);

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_battle_streams_both_sides_anonymously_is_stored_and_takes_one_vote()
    {
        await using var server = await ArenaServer.StartAsync(Config(), new ArenaServerOptions(folder.File("arena.db")) { Port = 0, Seed = 3 });
        // Two contestants name the same model: one copy of it serves both.
        var services = server.Contestants.All.OfType<LocalContestant>().Select(c => c.Service).Distinct().ToList();
        Assert.Equal(2, services.Count);

        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("arena")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("arena/leaderboard")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("arena/arena.js")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("render.js")).StatusCode);

        var seen = new HashSet<(string, string)>();
        var voters = new HashSet<string>();
        for (int round = 0; round < 3; round++)
        {
            using var response = await http.PostAsync("arena/api/battles", Json(new { prompt = "What is 2+2?" }));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            var events = await ServerFixture.ReadEvents(response);
            Assert.Equal("[DONE]", events[^1]);
            // No event names a contestant before the vote.
            foreach (var name in new[] { "reasoner", "noise" }) Assert.DoesNotContain(events, e => e.Contains(name));
            var parsed = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
            string id = parsed[0].GetProperty("battle").GetString()!;
            Assert.True(parsed[^1].GetProperty("stored").GetBoolean());
            foreach (var side in new[] { "a", "b" })
                Assert.Single(parsed, e => e.TryGetProperty("side", out var s) && s.GetString() == side && e.TryGetProperty("finish_reason", out _));

            var stored = server.Store.Find(id)!;
            Assert.Null(stored.Winner);
            Assert.Equal("What is 2+2?", stored.Prompt);
            string Streamed(string side, string field) => string.Concat(parsed.Where(e => e.TryGetProperty("side", out var s) && s.GetString() == side
                && e.TryGetProperty(field, out _)).Select(e => e.GetProperty(field).GetString()));
            Assert.Equal(stored.ReplyA!.Reasoning, Streamed("a", "reasoning_content"));
            Assert.Equal(stored.ReplyA.Content, Streamed("a", "content"));
            Assert.Equal(stored.ReplyB!.Reasoning, Streamed("b", "reasoning_content"));
            if (stored.ModelA == "reasoner") Assert.Equal((ServerTestModels.Reasoning, ServerTestModels.Answer), (stored.ReplyA.Reasoning, stored.ReplyA.Content));
            seen.Add(PairScheduler.Key(stored.ModelA, stored.ModelB));

            using var vote = await http.PostAsync($"arena/api/battles/{id}/vote", Json(new { winner = "model_a" }));
            Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
            using var revealed = JsonDocument.Parse(await vote.Content.ReadAsStringAsync());
            Assert.Equal(stored.ModelA, revealed.RootElement.GetProperty("model_a").GetString());
            Assert.Equal(stored.ModelB, revealed.RootElement.GetProperty("model_b").GetString());
            // The first vote gets the voter an anonymous cookie, which the client sends back from then on.
            if (round == 0)
            {
                var cookie = vote.Headers.GetValues("Set-Cookie").Single();
                Assert.Contains(ArenaEndpoints.VoterCookie + "=", cookie);
                Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
                Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
            }
            else Assert.False(vote.Headers.Contains("Set-Cookie"));
            voters.Add(server.Store.Find(id)!.Voter!);

            // A second vote on the same battle is refused, whatever it says.
            using var again = await http.PostAsync($"arena/api/battles/{id}/vote", Json(new { winner = "model_b" }));
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Equal("already_voted", ServerFixture.Error(await again.Content.ReadAsStringAsync()).GetProperty("code").GetString());
            Assert.Equal(Winner.ModelA, server.Store.Find(id)!.Winner);
        }
        Assert.Equal(3, seen.Count); // three contestants, three pairs: each played once
        Assert.Matches("^[0-9a-f]{32}$", Assert.Single(voters));

        using var board = JsonDocument.Parse(await http.GetStringAsync("arena/api/leaderboard?judge=human"));
        Assert.Equal(3, board.RootElement.GetProperty("battles").GetInt32());
        Assert.Equal(3, board.RootElement.GetProperty("rows").GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("arena/api/leaderboard?judge=robots")).StatusCode);
        using var unknown = await http.PostAsync("arena/api/battles/0123456789abcdef0123456789abcdef/vote", Json(new { winner = "tie" }));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var badWinner = await http.PostAsync("arena/api/battles/0123456789abcdef0123456789abcdef/vote", Json(new { winner = "model_c" }));
        Assert.Equal("winner", ServerFixture.Error(await badWinner.Content.ReadAsStringAsync()).GetProperty("param").GetString());
        using var empty = await http.PostAsync("arena/api/battles", Json(new { prompt = "  " }));
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
    }

    [Fact]
    public async Task With_an_api_key_the_vote_and_battle_endpoints_refuse_requests_without_it_and_the_guards_of_r1_serve_hold()
    {
        await using var server = await ArenaServer.StartAsync(Config(), new ArenaServerOptions(folder.File("arena.db")) { Port = 0, ApiKey = "arena-key" });
        var battle = new Battle(Battle.NewId(), "reasoner", "noise", Judge.Human, DateTimeOffset.UtcNow) { Prompt = "hi" };
        server.Store.Add(battle);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        string vote = $"arena/api/battles/{battle.Id}/vote";

        using (var noKey = await http.PostAsync(vote, Json(new { winner = "model_a" })))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
            Assert.Equal("missing_api_key", ServerFixture.Error(await noKey.Content.ReadAsStringAsync()).GetProperty("code").GetString());
        }
        using (var request = new HttpRequestMessage(HttpMethod.Post, vote) { Content = Json(new { winner = "model_a" }) })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "arena-kez");
            using var wrongKey = await http.SendAsync(request);
            Assert.Equal("invalid_api_key", ServerFixture.Error(await wrongKey.Content.ReadAsStringAsync()).GetProperty("code").GetString());
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("arena/api/battles", Json(new { prompt = "hi" }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("arena/api/leaderboard")).StatusCode);
        Assert.Null(server.Store.Find(battle.Id)!.Winner);
        // The pages stay open: they hold no data and ask for the key.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("arena")).StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "arena-key");
        // Cross-site "simple" requests and foreign Host names are refused as by r1 serve.
        using (var plain = await http.PostAsync(vote, new StringContent("""{"winner": "model_a"}""", Encoding.UTF8, "text/plain")))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);
        using (var request = new HttpRequestMessage(HttpMethod.Post, vote) { Content = Json(new { winner = "model_a" }) })
        {
            request.Headers.Host = "attacker.example";
            using var rebound = await http.SendAsync(request);
            Assert.Equal("invalid_host", ServerFixture.Error(await rebound.Content.ReadAsStringAsync()).GetProperty("code").GetString());
        }
        Assert.Null(server.Store.Find(battle.Id)!.Winner);
        using (var ok = await http.PostAsync(vote, Json(new { winner = "model_a" })))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(Winner.ModelA, server.Store.Find(battle.Id)!.Winner);
        await Assert.ThrowsAsync<R1Error>(() => ArenaServer.StartAsync(Config(), new ArenaServerOptions(folder.File("b.db")) { Port = 0, ApiKey = " " }));
    }

    [Fact]
    public async Task An_endpoint_contestant_streams_thinking_and_answer_from_an_openai_compatible_server_and_keeps_its_key_to_itself()
    {
        await using var served = await ServerFixture.StartAsync(ServerTestModels.ReasoningDir, o => o with { ApiKey = "served-key" });
        string url = new Uri(served.BaseAddress, "v1").ToString();
        var sampling = new ArenaSampling(Temperature: 0, TopP: 1, MaxTokens: 100);
        EndpointContestant Contestant(string baseUrl, string model, string? key) =>
            new("api", sampling, new OpenAiEndpoint(new EndpointOptions { Url = baseUrl, Model = model }, key));
        var endpoint = Contestant(url, served.Service.ModelId, "served-key");
        var reply = await endpoint.ReplyAsync([ChatMessage.User("What is 2+2?")], seed: 1, CancellationToken.None);
        Assert.Equal(new ContestantReply(ServerTestModels.Reasoning, ServerTestModels.Answer, R1Sharp.Generation.FinishReason.Stop), reply);

        var wrongKey = Contestant(url, served.Service.ModelId, "not-the-key-xyz");
        var refused = await Assert.ThrowsAsync<R1Error>(() => wrongKey.ReplyAsync([ChatMessage.User("hi")], null, CancellationToken.None));
        Assert.Contains("HTTP 401", refused.Message);
        Assert.Contains("contestant 'api'", refused.Message);
        Assert.DoesNotContain("not-the-key-xyz", refused.Message);

        var wrongModel = Contestant(url, "other-model", "served-key");
        Assert.Contains("HTTP 404", (await Assert.ThrowsAsync<R1Error>(() => wrongModel.ReplyAsync([ChatMessage.User("hi")], null, CancellationToken.None))).Message);
        var nobody = Contestant("http://127.0.0.1:1/v1", "m", null);
        Assert.Contains("cannot reach", (await Assert.ThrowsAsync<R1Error>(() => nobody.ReplyAsync([ChatMessage.User("hi")], null, CancellationToken.None))).Message);
    }
}
