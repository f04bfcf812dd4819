using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using R1Sharp.Serving;

namespace R1Sharp.Server;

/// <summary>
/// `r1 serve`: an OpenAI-compatible chat API over one model, and the web chat at "/". Endpoints: GET /v1/models,
/// POST /v1/chat/completions (<see cref="ChatCompletionsEndpoint"/>), POST /v1/completions, GET /health, and with
/// --allow-weight-updates the learner's (<see cref="WeightUpdates"/>). Every request shares the
/// model through one <see cref="ChatService"/>, so concurrent requests decode in the same batched steps.
/// </summary>
public sealed class R1Server : IAsyncDisposable
{
    readonly WebApplication app;

    R1Server(WebApplication app, ChatService service)
    {
        this.app = app;
        Service = service;
    }

    public ChatService Service { get; }

    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080/ (the real port when 0 was asked for).</summary>
    public Uri BaseAddress => AddressOf(app);

    internal static Uri AddressOf(WebApplication app) => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
        .Addresses.First().TrimEnd('/') + "/");

    /// <summary>Loads the model and starts listening; the server owns the model from here on.</summary>
    public static async Task<R1Server> StartAsync(ServerOptions options, CancellationToken cancellation = default)
    {
        CheckApiKey(options.ApiKey);
        _ = options.ListenUrl; // checked before the model loads
        var service = ChatService.Load(options.ModelDir, options.Serving);
        try
        {
            if (options.AllowWeightUpdates && service.Bundle.Model.IsPacked)
                throw new R1Error($"{options.ModelDir}: --allow-weight-updates replaces float weights, and this model's are quantized " +
                                  "(a GGUF file or --quantize); serve the float model folder to a GRPO learner");
            var server = new R1Server(Build(options, service), service);
            await server.app.StartAsync(cancellation);
            return server;
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the process is asked to stop (Ctrl+C, SIGTERM) or <paramref name="cancellation"/> fires.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => app.WaitForShutdownAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        Service.Dispose();
    }

    static WebApplication Build(ServerOptions options, ChatService service)
    {
        var app = CreateGuardedApp(options.Host, options.Port, options.MaxRequestBodyBytes, options.AllowedHosts, options.ApiKey, "/v1");
        if (options.ApiKey is { } key) app.Use(RequireApiKey(key, WeightUpdates.Path));
        var page = new ManifestEmbeddedFileProvider(typeof(R1Server).Assembly, "wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });

        long created = new DateTimeOffset(Directory.GetLastWriteTimeUtc(service.Bundle.Directory)).ToUnixTimeSeconds();
        // The base, then each LoRA adapter with its base as parent, as vLLM lists them.
        object Model(string id) => id == service.ModelId
            ? new { id, @object = "model", created, owned_by = "r1sharp" }
            : new { id, @object = "model", created, owned_by = "r1sharp", parent = service.ModelId };
        app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = service.ModelIds.Select(Model).ToArray() }));
        app.MapGet("/v1/models/{id}", (string id) => service.ModelIds.Contains(id) ? Results.Json(Model(id))
            : throw new OpenAiError(404, $"The model '{id}' does not exist", param: "model", code: "model_not_found"));
        app.MapPost("/v1/chat/completions", (HttpContext http) => ChatCompletionsEndpoint.Handle(http, service));
        app.MapPost("/v1/completions", (HttpContext http) => CompletionsEndpoint.Handle(http, service));
        app.MapPost(WeightUpdates.Path, (HttpContext http) => WeightUpdates.Handle(http, service, options.AllowWeightUpdates));
        app.MapPost(WeightUpdates.LoadAdapterPath, (HttpContext http) => WeightUpdates.LoadAdapter(http, service, options.AllowWeightUpdates));
        app.MapPost(WeightUpdates.UnloadAdapterPath, (HttpContext http) => WeightUpdates.UnloadAdapter(http, service, options.AllowWeightUpdates));
        app.MapGet("/health", () => Results.Json(new
        {
            status = "ok", model = service.ModelId, weight_version = service.WeightVersion, context_length = service.ContextLength,
            active_sequences = service.Batcher.ActiveRows, queued_requests = service.Batcher.Queued,
            max_batch = service.Options.MaxBatch, max_queue = service.Options.MaxQueue,
        }));
        app.Map("/v1/{**rest}", (HttpContext http) =>
            throw new OpenAiError(404, $"Unknown request URL: {http.Request.Method} {http.Request.Path}", code: "unknown_url"));
        return app;
    }

    /// <summary>
    /// A web app behind the guards of the Security section of docs/serving.md, shared by `r1 serve` and `r1 arena serve`:
    /// errors in OpenAI's shape, the request body limit, the Host check on every path, and — with an API key —
    /// "Authorization: Bearer KEY" on every path under <paramref name="protectedPath"/>.
    /// </summary>
    internal static WebApplication CreateGuardedApp(string host, int port, long maxRequestBodyBytes, IReadOnlyList<string> allowedHosts,
        string? apiKey, string protectedPath)
    {
        CheckApiKey(apiKey);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A failed start (port in use) reaches the caller as an exception; the host's own log of it is noise.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.WebHost.UseUrls(ServerOptions.ListenUrlFor(host, port));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxRequestBodyBytes);
        var app = builder.Build();

        app.Use(WriteErrors);
        app.Use(RequireKnownHost(host, allowedHosts));
        if (apiKey is { } key) app.Use(RequireApiKey(key, protectedPath));
        return app;
    }

    /// <summary>An empty key is refused before anything loads.</summary>
    internal static void CheckApiKey(string? key)
    {
        if (key is not null && key.Trim().Length == 0)
            throw new R1Error("the API key is empty; a server with an empty key would refuse every request");
    }

    /// <summary>Turns <see cref="OpenAiError"/> and unexpected failures into OpenAI-shaped error responses.</summary>
    static async Task WriteErrors(HttpContext http, RequestDelegate next)
    {
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client left; nobody is there to read an answer.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var error = e as OpenAiError ?? (e is BadHttpRequestException bad
                ? new OpenAiError(bad.StatusCode, bad.Message)
                : OpenAiError.ServerFailure(e, http.RequestServices.GetRequiredService<ILogger<R1Server>>()));
            await error.WriteAsync(http.Response);
        }
    }

    /// <summary>
    /// With an API key set, requests under <paramref name="protectedPath"/> (/v1 for `r1 serve`) need "Authorization:
    /// Bearer KEY"; the page and /health stay open. The keys' SHA-256 hashes are compared in constant time, so neither
    /// the time taken nor a length check tells an attacker how much of a guess was right, or how long the key is.
    /// </summary>
    static Func<HttpContext, RequestDelegate, Task> RequireApiKey(string key, string protectedPath)
    {
        byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(key.Trim()));
        return (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments(protectedPath)) return next(http);
            string header = http.Request.Headers.Authorization.ToString();
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                throw new OpenAiError(401, "You didn't provide an API key. Send it in an Authorization header: 'Authorization: Bearer YOUR_KEY'.", code: "missing_api_key");
            byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
            if (!CryptographicOperations.FixedTimeEquals(given, expected))
                throw new OpenAiError(401, "Incorrect API key provided.", code: "invalid_api_key");
            return next(http);
        };
    }

    /// <summary>
    /// Answers only requests whose Host header names this server: its bound address, "localhost", a loopback address,
    /// any IP address when bound to all interfaces, or a name in <paramref name="allowedHosts"/>. A web page on a name
    /// of its own that it points at 127.0.0.1 (DNS rebinding) would otherwise read and drive the API as if it were
    /// same-origin; it cannot choose the Host header its browser sends.
    /// </summary>
    static Func<HttpContext, RequestDelegate, Task> RequireKnownHost(string boundHost, IReadOnlyList<string> allowedHosts)
    {
        string bound = HostName(boundHost);
        bool allInterfaces = bound is "0.0.0.0" or "::" or "*" or "+";
        var allowed = new HashSet<string>(allowedHosts.Select(HostName), StringComparer.OrdinalIgnoreCase) { bound, "localhost" };
        bool anyName = allowed.Contains("*");
        return (http, next) =>
        {
            // HTTP/1.1 requires a Host (Kestrel refuses a request without one); a browser always sends it.
            string host = HostName(http.Request.Host.Host);
            bool known = anyName || allowed.Contains(host)
                || (IPAddress.TryParse(host, out var address) && (IPAddress.IsLoopback(address) || allInterfaces));
            if (!known)
                throw new OpenAiError(400, $"This server does not answer for the host '{Truncate(http.Request.Host.Value ?? "")}'. " +
                    "Use its address, or start it with --allowed-hosts NAME to answer for that name.", code: "invalid_host");
            return next(http);
        };
    }

    /// <summary>A host as compared: lower case, without IPv6 brackets or a trailing dot.</summary>
    static string HostName(string host) => host.Trim().TrimStart('[').TrimEnd(']').TrimEnd('.').ToLowerInvariant();

    static string Truncate(string text) => text.Length <= 100 ? text : text[..97] + "...";
}
