using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using R1Sharp.Server;

namespace R1Sharp.Tests.Server;

/// <summary>The server tests share the machine's cores, so they run one class at a time.</summary>
[CollectionDefinition(Name)]
public class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "Server";
}

/// <summary>Two real servers on loopback, on free ports: one over the reasoning model, one over the random model.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public R1Server Reasoning { get; private set; } = null!;
    public R1Server Random { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Reasoning = await StartAsync(ServerTestModels.ReasoningDir);
        Random = await StartAsync(ServerTestModels.RandomDir);
    }

    public async Task DisposeAsync()
    {
        await Reasoning.DisposeAsync();
        await Random.DisposeAsync();
    }

    /// <summary>Starts the real server on 127.0.0.1 with a port the OS picks.</summary>
    public static Task<R1Server> StartAsync(string modelDir, Func<ServerOptions, ServerOptions>? edit = null) =>
        R1Server.StartAsync((edit ?? (o => o))(new ServerOptions(modelDir) { Host = "127.0.0.1", Port = 0 }));

    /// <summary>The official OpenAI client pointed at <paramref name="server"/>, without retries (a 429 must show).</summary>
    public static ChatClient OpenAiChat(R1Server server, string? model = null, string apiKey = "not-checked") =>
        new(model ?? server.Service.ModelId, new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(server.BaseAddress, "v1"),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        });

    public static HttpClient Http(R1Server server, string? apiKey = null)
    {
        var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return http;
    }

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>The "data:" payloads of a server-sent event stream, in order.</summary>
    public static async Task<List<string>> ReadEvents(HttpResponseMessage response)
    {
        var events = new List<string>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ")) events.Add(line["data: ".Length..]);
        return events;
    }

    /// <summary>The error object of an OpenAI-shaped error body; fails if the body has another shape.</summary>
    public static JsonElement Error(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("error").Clone();
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _), body);
        return error;
    }
}
