using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace R1Sharp.Tests.Remote;

/// <summary>What the stub does with one request.</summary>
public abstract record StubAnswer
{
    /// <summary>200 with a chat completion.</summary>
    public sealed record Reply(string? ReasoningContent, string? Content, string FinishReason = "stop", int CompletionTokens = 5,
        string? Reasoning = null, bool Usage = true) : StubAnswer;
    /// <summary>An error status with an OpenAI-shaped body, and a Retry-After header when given.</summary>
    public sealed record Error(int Status, string Message = "try again", string? RetryAfter = null) : StubAnswer;
    /// <summary>200 with these server-sent events ("data: …" lines), under this content type.</summary>
    public sealed record Events(string[] Data, string ContentType = "text/event-stream") : StubAnswer;
    /// <summary>The connection closed without an answer.</summary>
    public sealed record Drop : StubAnswer;
    /// <summary>No answer until the client gives up.</summary>
    public sealed record Hang : StubAnswer;
}

/// <summary>One request the stub received: its body and its Authorization header.</summary>
public sealed record StubRequest(int Number, JsonObject Body, string? Authorization)
{
    public string UserText => (string)Body["messages"]!.AsArray().Last()!["content"]!;
    public long? Seed => Body["seed"]?.GetValue<long>();
}

/// <summary>
/// A small OpenAI-compatible server on loopback (Kestrel, a port the OS picks) whose every answer — completions, 429s,
/// 500s, dropped connections, silence — comes from the test's function, for what a real server does only by accident.
/// </summary>
public sealed class StubEndpoint : IAsyncDisposable
{
    readonly WebApplication app;
    int count;

    public ConcurrentQueue<StubRequest> Requests { get; } = new();

    StubEndpoint(Func<StubRequest, StubAnswer> answer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.None);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        app = builder.Build();
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            var body = (JsonObject)(await JsonNode.ParseAsync(http.Request.Body))!;
            var request = new StubRequest(Interlocked.Increment(ref count), body, http.Request.Headers.Authorization.FirstOrDefault());
            Requests.Enqueue(request);
            switch (answer(request))
            {
                case StubAnswer.Reply r:
                    var message = new JsonObject { ["role"] = "assistant", ["content"] = r.Content };
                    if (r.ReasoningContent is not null) message["reasoning_content"] = r.ReasoningContent;
                    if (r.Reasoning is not null) message["reasoning"] = r.Reasoning;
                    var reply = new JsonObject
                    {
                        ["id"] = "chatcmpl-stub", ["object"] = "chat.completion", ["model"] = (string?)body["model"],
                        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = r.FinishReason }),
                    };
                    if (r.Usage) reply["usage"] = new JsonObject { ["prompt_tokens"] = 7, ["completion_tokens"] = r.CompletionTokens, ["total_tokens"] = 7 + r.CompletionTokens };
                    await Results.Text(reply.ToJsonString(), "application/json").ExecuteAsync(http);
                    break;
                case StubAnswer.Error e:
                    if (e.RetryAfter is not null) http.Response.Headers.RetryAfter = e.RetryAfter;
                    http.Response.StatusCode = e.Status;
                    await http.Response.WriteAsync(new JsonObject { ["error"] = new JsonObject { ["message"] = e.Message, ["type"] = "api_error" } }.ToJsonString());
                    break;
                case StubAnswer.Events events:
                    http.Response.ContentType = events.ContentType;
                    foreach (string data in events.Data)
                    {
                        await http.Response.WriteAsync($"data: {data}\n\n");
                        await http.Response.Body.FlushAsync();
                    }
                    break;
                case StubAnswer.Drop:
                    http.Abort();
                    break;
                case StubAnswer.Hang:
                    try { await Task.Delay(TimeSpan.FromSeconds(30), http.RequestAborted); } catch (OperationCanceledException) { }
                    break;
            }
        });
    }

    public static async Task<StubEndpoint> StartAsync(Func<StubRequest, StubAnswer> answer)
    {
        var stub = new StubEndpoint(answer);
        await stub.app.StartAsync();
        return stub;
    }

    /// <summary>The API base, e.g. http://127.0.0.1:41234/v1.</summary>
    public string Url => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/v1";

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
