using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using R1Sharp.Arena;
using R1Sharp.Tokenizers;

namespace R1Sharp.Server;

/// <summary>
/// The arena's pages and API, beside the chat's (<see cref="ChatCompletionsEndpoint"/>):
/// <list type="bullet">
/// <item>GET /arena — the battle page; GET /arena/leaderboard — ratings, intervals, a plot and the win-rate matrix.</item>
/// <item>POST /arena/api/battles {"prompt"} — draws the next pair and streams both replies as server-sent events:
/// {"battle": id}, then {"side": "a"|"b", "reasoning_content"?, "content"?, "finish_reason"?} as they come, then
/// {"stored": true} once the battle is in the database, then [DONE]. Names are not sent: the contestants stay anonymous
/// until the vote.</item>
/// <item>POST /arena/api/battles/{id}/vote {"winner": "model_a"|"model_b"|"tie"|"tie (bothbad)"} — records the vote
/// (with the voter's anonymous cookie) and reveals the names; a second vote on a battle gets 409.</item>
/// <item>GET /arena/api/leaderboard?judge=all|human|checker — the leaderboard as JSON.</item>
/// </list>
/// POST bodies must be JSON (415 otherwise) and the API key, when set, guards /arena/api, as in `r1 serve`.
/// </summary>
public sealed class ArenaEndpoints(ArenaContestants contestants, ArenaStore store, PairScheduler pairs)
{
    public const string ApiPath = "/arena/api";
    /// <summary>The cookie holding a voter's anonymous id (random, not derived from anything about them).</summary>
    public const string VoterCookie = "r1arena_voter";
    /// <summary>Bootstrap rounds of the page's leaderboard, as `r1 arena leaderboard`'s default.</summary>
    public const int BootstrapRounds = 1000;

    readonly Dictionary<string, (long Decided, Leaderboard Board)> leaderboards = [];
    readonly Lock leaderboardGate = new();

    public void Map(WebApplication app)
    {
        var files = new ManifestEmbeddedFileProvider(typeof(ArenaEndpoints).Assembly, "wwwroot");
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        app.MapGet("/", () => Results.Redirect("/arena"));
        app.MapGet("/arena", () => Page(files, "arena/arena.html"));
        app.MapGet("/arena/leaderboard", () => Page(files, "arena/leaderboard.html"));
        app.MapPost(ApiPath + "/battles", StartBattle);
        app.MapPost(ApiPath + "/battles/{id}/vote", Vote);
        app.MapGet(ApiPath + "/leaderboard", LeaderboardData);
        app.Map(ApiPath + "/{**rest}", (HttpContext http) =>
            throw new OpenAiError(404, $"Unknown request URL: {http.Request.Method} {http.Request.Path}", code: "unknown_url"));
    }

    static IResult Page(IFileProvider files, string path) => Results.Stream(files.GetFileInfo(path).CreateReadStream(), "text/html; charset=utf-8");

    async Task StartBattle(HttpContext http)
    {
        string prompt;
        using (var body = await ChatCompletionsEndpoint.ReadBody(http))
        {
            var root = JsonObjectBody(body);
            prompt = ChatCompletionRequest.OptionalString(root, "prompt")
                ?? throw new OpenAiError(400, "Missing required parameter: 'prompt'", param: "prompt", code: "missing_required_parameter");
        }
        if (prompt.Trim().Length == 0) throw OpenAiError.InvalidParam("prompt", "Invalid 'prompt': must not be empty.", "invalid_value");

        var (nameA, nameB) = pairs.Next();
        var battle = new Battle(Battle.NewId(), nameA, nameB, Judge.Human, DateTimeOffset.UtcNow) { Prompt = prompt, Source = "arena" };
        bool stored = false;
        ChatCompletionsEndpoint.BeginEventStream(http.Response);
        try
        {
            await Send(http, new JsonObject { ["battle"] = battle.Id });
            var replies = new[] { new ContestantReply.Builder(), new ContestantReply.Builder() };
            await foreach (var (side, update) in Contestant.Both(contestants[nameA], contestants[nameB], [ChatMessage.User(prompt)], null, null, http.RequestAborted))
            {
                replies[side].Add(update);
                var e = new JsonObject { ["side"] = side == 0 ? "a" : "b" };
                if (update.ReasoningDelta.Length > 0) e["reasoning_content"] = update.ReasoningDelta;
                if (update.ContentDelta.Length > 0) e["content"] = update.ContentDelta;
                if (update.Finish is { } finish) e["finish_reason"] = finish == Generation.FinishReason.Stop ? "stop" : "length";
                await Send(http, e);
            }
            store.Add(battle with { ReplyA = replies[0].Build(), ReplyB = replies[1].Build() });
            stored = true;
            await Send(http, new JsonObject { ["stored"] = true });
        }
        catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
        {
            // Which contestant failed, and how, would tell the voter who is behind a side: the details go to the log only.
            var log = http.RequestServices.GetRequiredService<ILogger<ArenaServer>>();
            if (e is R1Error) log.LogWarning("battle {Id} failed: {Message}", battle.Id, e.Message);
            else log.LogError(e, "battle {Id} failed", battle.Id);
            var error = new OpenAiError(500, "a contestant failed to answer, so this battle does not count (the server's log has the details)", "server_error");
            await Send(http, JsonSerializer.SerializeToNode(error.Body)!);
        }
        finally
        {
            if (!stored) pairs.Release(nameA, nameB);
        }
        await ChatCompletionsEndpoint.WriteEvent(http, "[DONE]");
    }

    async Task<IResult> Vote(HttpContext http, string id)
    {
        Winner winner;
        using (var body = await ChatCompletionsEndpoint.ReadBody(http))
        {
            string? name = ChatCompletionRequest.OptionalString(JsonObjectBody(body), "winner");
            winner = ArenaNames.ParseWinner(name) ?? throw OpenAiError.InvalidParam("winner",
                "Invalid 'winner': must be \"model_a\", \"model_b\", \"tie\" or \"tie (bothbad)\".", name is null ? "missing_required_parameter" : "invalid_value");
        }
        var result = id.Length <= 64 ? store.Vote(id, winner, VoterId(http), DateTimeOffset.UtcNow) : VoteResult.NotFound;
        if (result == VoteResult.NotFound) throw new OpenAiError(404, "There is no battle with this id", param: "id", code: "battle_not_found");
        if (result == VoteResult.AlreadyDecided) throw new OpenAiError(409, "This battle already has its verdict; a battle takes one vote", code: "already_voted");
        var battle = store.Find(id)!;
        return Results.Json(new JsonObject
        {
            ["battle"] = battle.Id, ["winner"] = ArenaNames.Name(winner), ["model_a"] = battle.ModelA, ["model_b"] = battle.ModelB,
        });
    }

    async Task<IResult> LeaderboardData(string? judge)
    {
        Judge? filter;
        try
        {
            filter = ArenaNames.ParseJudge(judge ?? "all", "judge");
        }
        catch (R1Error e)
        {
            throw OpenAiError.InvalidParam("judge", e.Message, "invalid_value");
        }
        string key = filter is { } j ? ArenaNames.Name(j) : "all";
        long decided = store.DecidedCount(filter);
        Leaderboard? board;
        lock (leaderboardGate) board = leaderboards.TryGetValue(key, out var cached) && cached.Decided == decided ? cached.Board : null;
        if (board is null)
        {
            // Refitted only when battles were decided since: a page reload costs nothing.
            board = await Task.Run(() => Leaderboard.Compute(store.Outcomes(filter), BootstrapRounds));
            lock (leaderboardGate) leaderboards[key] = (decided, board);
        }
        var json = board.ToJson();
        json["judge"] = key;
        return Results.Json(json);
    }

    static JsonElement JsonObjectBody(JsonDocument body) => body.RootElement.ValueKind == JsonValueKind.Object
        ? body.RootElement : throw new OpenAiError(400, "the request body must be a JSON object");

    /// <summary>The voter's anonymous id from the cookie, or a new one (then set as the cookie).</summary>
    static string VoterId(HttpContext http)
    {
        if (http.Request.Cookies.TryGetValue(VoterCookie, out var id) && id is { Length: 32 } && id.All(char.IsAsciiHexDigitLower)) return id;
        id = Guid.NewGuid().ToString("N");
        http.Response.Cookies.Append(VoterCookie, id, new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/arena", MaxAge = TimeSpan.FromDays(365), IsEssential = true,
        });
        return id;
    }

    static Task Send(HttpContext http, JsonNode payload) => ChatCompletionsEndpoint.WriteEvent(http, payload.ToJsonString());
}
