using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Tokenizers;

namespace R1Sharp.Remote;

/// <summary>
/// Where an OpenAI-compatible server is and how hard to try it. The API key is not here: it goes straight to
/// <see cref="OpenAiEndpoint"/>, so no record, report or log line can ever print it.
/// </summary>
public sealed record EndpointOptions
{
    /// <summary>The API's base URL, e.g. http://127.0.0.1:8080/v1 or https://api.deepseek.com/v1; requests go to {Url}/chat/completions.</summary>
    public required string Url { get; init; }
    /// <summary>The request's "model" field (the server's name for the model).</summary>
    public required string Model { get; init; }
    /// <summary>Most requests in flight at once. Default 8.</summary>
    public int Concurrency { get; init; } = 8;
    /// <summary>Tries per request, the first included; a request still failing after them fails the run. Default 8.</summary>
    public int MaxAttempts { get; init; } = 8;
    /// <summary>One attempt's limit (reasoning models think for minutes). Default 600 s.</summary>
    public double RequestTimeoutSeconds { get; init; } = 600;
    /// <summary>Wait before the first retry; it doubles per retry up to <see cref="MaxRetryDelaySeconds"/>, half of it random (jitter). Default 1 s.</summary>
    public double FirstRetryDelaySeconds { get; init; } = 1;
    /// <summary>Longest backoff between tries. Default 60 s. A server's Retry-After is honoured up to 10 minutes.</summary>
    public double MaxRetryDelaySeconds { get; init; } = 60;

    public EndpointOptions Validate()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new R1Error($"endpoint URL must be http(s)://host[:port]/path, like http://127.0.0.1:8080/v1, got '{OpenAiEndpoint.Display(Url)}'");
        if (string.IsNullOrWhiteSpace(Model)) throw new R1Error("the endpoint's model name is empty");
        if (Concurrency < 1) throw new R1Error($"concurrency must be at least 1, got {Concurrency}");
        if (MaxAttempts < 1) throw new R1Error($"max attempts must be at least 1, got {MaxAttempts}");
        if (!(RequestTimeoutSeconds > 0)) throw new R1Error($"request timeout must be positive, got {RequestTimeoutSeconds}");
        if (!(FirstRetryDelaySeconds >= 0) || !(MaxRetryDelaySeconds >= FirstRetryDelaySeconds))
            throw new R1Error($"retry delays must satisfy 0 <= first ({FirstRetryDelaySeconds}) <= max ({MaxRetryDelaySeconds})");
        return this;
    }
}

/// <summary>One chat completion to ask for (n = 1). Seeds are sent as unsigned so every server keeps all 32 bits.</summary>
public sealed record ChatCall(IReadOnlyList<ChatMessage> Messages, double Temperature, double TopP, int MaxTokens, int? Seed = null);

/// <summary>
/// A server's answer: the thinking (from <c>reasoning_content</c>, else <c>reasoning</c>, else a &lt;think&gt; block in
/// <c>content</c>), the answer, why it ended, and the usage the server counted.
/// </summary>
public sealed record ChatReply(string? Reasoning, string? Content, string? FinishReason, int PromptTokens, int CompletionTokens)
{
    /// <summary>Cut at max_tokens (finish_reason "length"): unfinished.</summary>
    public bool HitLimit => FinishReason == "length";

    /// <summary>
    /// The reply as the text a model writes after a chat template that opened &lt;think&gt; (R1's): "reasoning&lt;/think&gt;answer";
    /// only the reasoning while it never closed (content null); "&lt;/think&gt;answer" — an empty think block — for a
    /// reply without reasoning. So an `r1 serve` endpoint gives exactly local evaluation's text, and every reply is
    /// graded with templateOpenedThink = true.
    /// </summary>
    public string Completion => Content is null ? Reasoning ?? "" : (Reasoning ?? "") + ChatTokens.ThinkEnd + Content;

    /// <summary>Reads the thinking out of the reply's fields; a &lt;think&gt; block inside the content counts when no field carried it.</summary>
    public static ChatReply From(string? reasoning, string? content, string? finishReason, int promptTokens, int completionTokens)
    {
        if (string.IsNullOrEmpty(reasoning) && content is not null)
        {
            // "<think>R</think>A" from a server without a reasoning parser, or "R</think>A" when the template opened the block.
            var (r, c) = ReasoningParser.Split(content, thinkOpenedByTemplate: content.Contains(ChatTokens.ThinkEnd, StringComparison.Ordinal));
            if (r is not null) (reasoning, content) = (r, c);
        }
        return new ChatReply(string.IsNullOrEmpty(reasoning) ? null : reasoning, content, finishReason, promptTokens, completionTokens);
    }
}

/// <summary>What an endpoint cost: HTTP requests sent (retries included), retries, the server's token counts, time spent waiting to retry.</summary>
public sealed record EndpointCounts(long Requests, long Retries, long PromptTokens, long CompletionTokens, double RetryWaitSeconds)
{
    public static readonly EndpointCounts Zero = new(0, 0, 0, 0, 0);
    public long TotalTokens => PromptTokens + CompletionTokens;

    public static EndpointCounts operator +(EndpointCounts a, EndpointCounts b) => new(a.Requests + b.Requests, a.Retries + b.Retries,
        a.PromptTokens + b.PromptTokens, a.CompletionTokens + b.CompletionTokens, a.RetryWaitSeconds + b.RetryWaitSeconds);

    public static EndpointCounts operator -(EndpointCounts a, EndpointCounts b) => new(a.Requests - b.Requests, a.Retries - b.Retries,
        a.PromptTokens - b.PromptTokens, a.CompletionTokens - b.CompletionTokens, a.RetryWaitSeconds - b.RetryWaitSeconds);
}

/// <summary>An endpoint's part of a report (eval.json, the sampling summary): which server and model, and what it cost.</summary>
/// <param name="Url">The URL without user info or query (never a secret).</param>
/// <param name="Seconds">Wall-clock of the work (all runs that wrote a resumed file).</param>
public sealed record EndpointUsage(string Url, string Model, int Concurrency, long Requests, long Retries, long PromptTokens, long CompletionTokens,
    long TotalTokens, double RetryWaitSeconds, double Seconds)
{
    public static EndpointUsage From(EndpointOptions options, EndpointCounts counts, double seconds) => new(OpenAiEndpoint.Display(options.Url),
        options.Model, options.Concurrency, counts.Requests, counts.Retries, counts.PromptTokens, counts.CompletionTokens, counts.TotalTokens,
        Math.Round(counts.RetryWaitSeconds, 3), Math.Round(seconds, 3));
}

/// <summary>
/// A client of one model behind an OpenAI-compatible <c>POST {url}/chat/completions</c> (DeepSeek's API, vLLM, Ollama,
/// `r1 serve`): non-streaming, n = 1, at most <see cref="EndpointOptions.Concurrency"/> requests in flight. A request is
/// retried, with exponential backoff and jitter, on 408, 409, 425, 429 (after the server's Retry-After), 5xx, timeouts,
/// dropped connections and unreadable replies, up to <see cref="EndpointOptions.MaxAttempts"/> tries; another 4xx fails
/// at once. Why not the OpenAI SDK: it reaches <c>reasoning_content</c> and <c>seed</c> only through experimental APIs and
/// hides its retries, which a run must count and bound; one POST and one JSON reply need no more than this.
/// </summary>
public sealed class OpenAiEndpoint : IDisposable
{
    /// <summary>Longest Retry-After honoured; a larger one is cut to this.</summary>
    const double MaxRetryAfterSeconds = 600;
    /// <summary>Largest reply read (a 32k-token completion is ~150 KB).</summary>
    const int MaxReplyBytes = 16 << 20;

    readonly HttpClient http;
    readonly Uri completionsUrl;
    readonly string? apiKey;
    readonly SemaphoreSlim slots;
    long requests, retries, promptTokens, completionTokens, retryWaitTicks;

    /// <param name="apiKey">Sent as "Authorization: Bearer KEY"; null sends none (local servers need none).</param>
    /// <param name="handler">The HTTP handler (tests); by default a pooled one with a connection per slot.</param>
    public OpenAiEndpoint(EndpointOptions options, string? apiKey = null, HttpMessageHandler? handler = null)
    {
        Options = options.Validate();
        if (apiKey is not null && (apiKey.Length == 0 || apiKey.Any(c => c < 0x21 || c > 0x7e)))
            throw new R1Error("the API key is empty or holds spaces or characters other than printable ASCII (the key itself is not shown)");
        this.apiKey = apiKey;
        completionsUrl = new Uri(options.Url.TrimEnd('/') + "/chat/completions");
        http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(Math.Min(30, options.RequestTimeoutSeconds)),
        })
        { Timeout = Timeout.InfiniteTimeSpan, MaxResponseContentBufferSize = MaxReplyBytes };
        slots = new SemaphoreSlim(options.Concurrency);
    }

    public EndpointOptions Options { get; }

    /// <summary>What this client has spent so far (thread-safe).</summary>
    public EndpointCounts Counts => new(Interlocked.Read(ref requests), Interlocked.Read(ref retries), Interlocked.Read(ref promptTokens),
        Interlocked.Read(ref completionTokens), TimeSpan.FromTicks(Interlocked.Read(ref retryWaitTicks)).TotalSeconds);

    /// <summary>The key in environment variable <paramref name="variable"/>; null when no variable is named. Its value is never shown.</summary>
    public static string? KeyFromEnvironment(string? variable)
    {
        if (variable is null) return null;
        string? key = Environment.GetEnvironmentVariable(variable)?.Trim();
        return string.IsNullOrEmpty(key) ? throw new R1Error($"environment variable {variable} (named by --api-key-env) is not set or empty") : key;
    }

    /// <summary>A URL fit to print and record: without user info, query or fragment (where secrets hide).</summary>
    public static string Display(string url)
    {
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
            return uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        string bare = url.Split('?', '#')[0];
        return bare[(bare.LastIndexOf('@') + 1)..];
    }

    /// <summary>Asks for one completion, retrying as the class says. Cancelling <paramref name="cancellation"/> stops at once.</summary>
    public async Task<ChatReply> CompleteAsync(ChatCall call, CancellationToken cancellation = default)
    {
        string body = RequestBody(call);
        for (int attempt = 1; ; attempt++)
        {
            Failure failure;
            await slots.WaitAsync(cancellation);
            try
            {
                Interlocked.Increment(ref requests);
                failure = await TryOnceAsync(body, cancellation);
                if (failure.Reply is { } reply)
                {
                    Interlocked.Add(ref promptTokens, reply.PromptTokens);
                    Interlocked.Add(ref completionTokens, reply.CompletionTokens);
                    return reply;
                }
            }
            finally
            {
                slots.Release();
            }
            if (!failure.Retryable) throw new R1Error($"{Display(Options.Url)}: {failure.Message}");
            if (attempt >= Options.MaxAttempts)
                throw new R1Error($"{Display(Options.Url)}: request failed {attempt} times, last: {failure.Message}");
            var wait = Backoff(attempt, failure.RetryAfter);
            Interlocked.Increment(ref retries);
            Interlocked.Add(ref retryWaitTicks, wait.Ticks);
            await Task.Delay(wait, cancellation);
        }
    }

    /// <summary>The outcome of one try: a reply, or why not and whether trying again may help.</summary>
    readonly record struct Failure(ChatReply? Reply, string Message, bool Retryable, TimeSpan? RetryAfter = null);

    async Task<Failure> TryOnceAsync(string body, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(Options.RequestTimeoutSeconds));
        using var request = new HttpRequestMessage(HttpMethod.Post, completionsUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
            string text = await response.Content.ReadAsStringAsync(timeout.Token);
            int status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    return new Failure(ParseReply(text), "", false);
                }
                catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or R1Error)
                {
                    return new Failure(null, $"unreadable reply ({e.Message}): {Snippet(text)}", Retryable: true);
                }
            }
            bool retryable = status is 408 or 409 or 425 or 429 || status >= 500;
            string hint = status switch
            {
                401 or 403 => " (check the key: --api-key-env names the environment variable that holds it)",
                404 => $" (check the URL, which should end where /chat/completions follows, e.g. /v1, and the model name '{Options.Model}')",
                _ => "",
            };
            return new Failure(null, $"HTTP {status} {response.ReasonPhrase}: {ErrorMessage(text)}{hint}", retryable, RetryAfter(response));
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return new Failure(null, $"no reply within {Options.RequestTimeoutSeconds:0.###} s", Retryable: true);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return new Failure(null, $"connection failed ({Redact(e.Message)})", Retryable: true);
        }
    }

    string RequestBody(ChatCall call)
    {
        var messages = new JsonArray();
        foreach (var m in call.Messages) messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        var body = new JsonObject
        {
            ["model"] = Options.Model, ["messages"] = messages, ["temperature"] = call.Temperature, ["top_p"] = call.TopP,
            ["max_tokens"] = call.MaxTokens, ["stream"] = false,
        };
        if (call.Seed is int seed) body["seed"] = (uint)seed;
        return body.ToJsonString();
    }

    /// <summary>choices[0]'s message and finish_reason, and usage (0 when the server sends none).</summary>
    static ChatReply ParseReply(string text)
    {
        var root = JsonNode.Parse(text) as JsonObject ?? throw new FormatException("not a JSON object");
        if (root["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice)
            throw new FormatException("no choices");
        var message = choice["message"] as JsonObject ?? throw new FormatException("choices[0] has no message");
        string? reasoning = TextOf(message["reasoning_content"]) is { Length: > 0 } r ? r : TextOf(message["reasoning"]);
        var usage = root["usage"] as JsonObject;
        return ChatReply.From(reasoning, TextOf(message["content"]), TextOf(choice["finish_reason"]), Count(usage?["prompt_tokens"]),
            Count(usage?["completion_tokens"]));
    }

    /// <summary>A string, or the text parts of a content array ([{type: "text", text}]); null for null or absent.</summary>
    static string? TextOf(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select(p => p is JsonObject part && TextOf(part["text"]) is { } t ? t : "")),
        _ => throw new FormatException($"expected text, got {node.ToJsonString()[..Math.Min(80, node.ToJsonString().Length)]}"),
    };

    static int Count(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) && n >= 0 ? n : 0;

    /// <summary>The "error.message" of an OpenAI-shaped error body, else the start of the body; never the key.</summary>
    string ErrorMessage(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject { } root && root["error"] is JsonObject error && TextOf(error["message"]) is { } message)
                return Snippet(message);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
        }
        return Snippet(text);
    }

    string Snippet(string text) => Redact(text.Length > 300 ? text[..300] + "…" : text).ReplaceLineEndings(" ");

    /// <summary>The text with the key replaced by "***" (servers have been known to echo it in errors).</summary>
    string Redact(string text) => apiKey is null ? text : text.Replace(apiKey, "***", StringComparison.Ordinal);

    static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        // OpenAI also sends the wait in milliseconds.
        if (wait is null && response.Headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out double millis))
            wait = TimeSpan.FromMilliseconds(millis);
        return wait is { } w ? TimeSpan.FromSeconds(Math.Clamp(w.TotalSeconds, 0, MaxRetryAfterSeconds)) : null;
    }

    /// <summary>
    /// The wait before try <paramref name="attempt"/> + 1: the server's Retry-After when it gave one (plus up to 10%, so
    /// requests told the same time do not return together), else first × 2^(attempt − 1), capped, its upper half random.
    /// </summary>
    TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        if (retryAfter is { } after) return after * (1 + 0.1 * Random.Shared.NextDouble());
        double ceiling = Math.Min(Options.MaxRetryDelaySeconds, Options.FirstRetryDelaySeconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromSeconds(ceiling * (0.5 + 0.5 * Random.Shared.NextDouble()));
    }

    public void Dispose()
    {
        http.Dispose();
        slots.Dispose();
    }
}
