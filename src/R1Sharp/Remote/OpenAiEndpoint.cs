using System.Runtime.CompilerServices;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Generation;
using R1Sharp.Serving;
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
/// <paramref name="N"/> completions of a prompt given as token ids (POST {url}/completions), asked with vLLM's
/// <c>"return_token_ids": true</c> and <c>"logprobs": 0</c> so the reply carries each sampled token id and its
/// log-probability: what an RL learner trains on. Seeds are sent as unsigned, as in <see cref="ChatCall"/>.
/// </summary>
/// <param name="Model">The "model" field when it is not <see cref="EndpointOptions.Model"/>.</param>
public sealed record TokenCall(IReadOnlyList<int> Prompt, int N, double Temperature, double TopP, int TopK, int MaxTokens, int? Seed, string? Model = null);

/// <summary>One choice of a <see cref="TokenCall"/>: the sampled token ids, their log-probs, and why it ended.</summary>
public sealed record TokenChoice(int[] TokenIds, float[] LogProbs, string? FinishReason);

/// <summary>A <see cref="TokenCall"/>'s answer, its choices in index order, and the usage the server counted.</summary>
public sealed record TokenReply(IReadOnlyList<TokenChoice> Choices, int PromptTokens, int CompletionTokens);

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
/// `r1 serve`), at most <see cref="EndpointOptions.Concurrency"/> requests in flight. <see cref="CompleteAsync"/> asks for
/// one whole completion and retries it, with exponential backoff and jitter, on 408, 409, 425, 429 (after the server's
/// Retry-After), 5xx, timeouts, dropped connections and unreadable replies, up to <see cref="EndpointOptions.MaxAttempts"/>
/// tries; another 4xx fails at once. <see cref="StreamAsync"/> streams one reply as it is written, in one try (someone
/// is watching it; the arena). Everything the server sends is bounded (reply size, line length, time) and every error
/// names the URL without its secrets, never the key. Why not the OpenAI SDK: it reaches <c>reasoning_content</c> and
/// <c>seed</c> only through experimental APIs and hides its retries, which a run must count and bound; one POST and one
/// JSON reply need no more than this.
/// </summary>
public sealed class OpenAiEndpoint : IDisposable
{
    /// <summary>Longest Retry-After honoured; a larger one is cut to this.</summary>
    const double MaxRetryAfterSeconds = 600;
    /// <summary>Largest reply read, and most characters of thinking plus answer streamed (a 32k-token completion is ~150 KB).</summary>
    public const int MaxReplyBytes = 16 << 20;
    /// <summary>Longest event line of a stream.</summary>
    public const int MaxEventLineBytes = 1 << 20;
    /// <summary>Most of an error body read.</summary>
    const int MaxErrorBodyBytes = 16 << 10;

    readonly HttpClient http;
    readonly Uri chatUrl, completionsUrl;
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
        chatUrl = new Uri(options.Url.TrimEnd('/') + "/chat/completions");
        completionsUrl = new Uri(options.Url.TrimEnd('/') + "/completions");
        http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(Math.Min(30, options.RequestTimeoutSeconds)),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        slots = new SemaphoreSlim(options.Concurrency);
    }

    public EndpointOptions Options { get; }

    /// <summary>The URL as errors and reports show it (<see cref="Display(string)"/>).</summary>
    public string Where => Display(Options.Url);

    /// <summary>What this client has spent so far (thread-safe). Streams count as requests; their tokens are not reported.</summary>
    public EndpointCounts Counts => new(Interlocked.Read(ref requests), Interlocked.Read(ref retries), Interlocked.Read(ref promptTokens),
        Interlocked.Read(ref completionTokens), TimeSpan.FromTicks(Interlocked.Read(ref retryWaitTicks)).TotalSeconds);

    /// <summary>The key in environment variable <paramref name="variable"/>; null when no variable is named. Its value is never shown.</summary>
    /// <param name="namedBy">The flag or field that named the variable, for the error.</param>
    public static string? KeyFromEnvironment(string? variable, string namedBy = "--api-key-env")
    {
        if (variable is null) return null;
        string? key = Environment.GetEnvironmentVariable(variable)?.Trim();
        return string.IsNullOrEmpty(key) ? throw new R1Error($"environment variable {variable} (named by {namedBy}) is not set or empty") : key;
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
    public Task<ChatReply> CompleteAsync(ChatCall call, CancellationToken cancellation = default) =>
        PostAsync(chatUrl, RequestBody(call, stream: false), ParseReply, r => (r.PromptTokens, r.CompletionTokens), cancellation);

    /// <summary>
    /// Asks for <see cref="TokenCall.N"/> completions of a token-id prompt at {url}/completions, retrying as the class says.
    /// A reply without every choice's token ids and log-probs (a server that ignores vLLM's <c>return_token_ids</c>) is an
    /// error that names the fields.
    /// </summary>
    public Task<TokenReply> CompleteTokensAsync(TokenCall call, CancellationToken cancellation = default)
    {
        var body = new JsonObject
        {
            ["model"] = call.Model ?? Options.Model, ["prompt"] = new JsonArray(call.Prompt.Select(t => (JsonNode?)t).ToArray()), ["n"] = call.N,
            ["temperature"] = call.Temperature, ["top_p"] = call.TopP, ["max_tokens"] = call.MaxTokens,
            ["logprobs"] = 0, ["return_token_ids"] = true, ["stream"] = false,
        };
        if (call.TopK > 0) body["top_k"] = call.TopK;
        if (call.Seed is int seed) body["seed"] = (uint)seed;
        return PostAsync(completionsUrl, body.ToJsonString(), text => ParseTokenReply(text, call.N), r => (r.PromptTokens, r.CompletionTokens), cancellation);
    }

    /// <summary>
    /// POSTs <paramref name="body"/> to <paramref name="path"/> under the server's root (the URL without a last "/v1"),
    /// as <c>/update_weights_from_disk</c> lives; returns the JSON reply. Retries as the class says.
    /// </summary>
    public Task<JsonObject> PostToServerAsync(string path, JsonObject body, CancellationToken cancellation = default) =>
        PostAsync(new Uri(ServerRoot + path), body.ToJsonString(),
            text => JsonNode.Parse(text) as JsonObject ?? throw new FormatException("not a JSON object"), _ => (0, 0), cancellation);

    /// <summary>
    /// POSTs <paramref name="body"/> to <paramref name="path"/> under the API's URL (e.g. {url}/load_lora_adapter, vLLM's,
    /// which answers plain text); returns the reply's text. Retries as the class says; an error status is an <see cref="R1Error"/>.
    /// </summary>
    public Task<string> PostToApiAsync(string path, JsonObject body, CancellationToken cancellation = default) =>
        PostAsync(new Uri(Options.Url.TrimEnd('/') + path), body.ToJsonString(), text => text, _ => (0, 0), cancellation);

    /// <summary>The server's root: the URL without a trailing "/v1" (where /health and the admin endpoints are).</summary>
    public string ServerRoot
    {
        get
        {
            string url = Options.Url.TrimEnd('/');
            return url.EndsWith("/v1", StringComparison.Ordinal) ? url[..^3] : url;
        }
    }

    /// <summary>GET <paramref name="url"/> (on this server: {<see cref="ServerRoot"/>}/health, {url}/models) once, within
    /// <paramref name="timeout"/>: the JSON reply, or null when the server does not answer with one (is a replica back?).</summary>
    public async Task<JsonObject?> ProbeAsync(string url, TimeSpan timeout, CancellationToken cancellation = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            if (!response.IsSuccessStatusCode) return null;
            var (text, whole) = await ReadAtMostAsync(response.Content, MaxErrorBodyBytes, deadline.Token);
            return whole ? JsonNode.Parse(text) as JsonObject : null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException
                                  || e is OperationCanceledException && !cancellation.IsCancellationRequested)
        {
            return null;
        }
    }

    async Task<T> PostAsync<T>(Uri url, string body, Func<string, T> parse, Func<T, (int Prompt, int Completion)> usage, CancellationToken cancellation)
        where T : class
    {
        for (int attempt = 1; ; attempt++)
        {
            Failure<T> failure;
            await slots.WaitAsync(cancellation);
            try
            {
                Interlocked.Increment(ref requests);
                failure = await TryOnceAsync(url, body, parse, cancellation);
                if (failure.Reply is { } reply)
                {
                    var (prompt, completion) = usage(reply);
                    Interlocked.Add(ref promptTokens, prompt);
                    Interlocked.Add(ref completionTokens, completion);
                    return reply;
                }
            }
            finally
            {
                slots.Release();
            }
            if (!failure.Retryable) throw new R1Error($"{Where}: {failure.Message}");
            if (attempt >= Options.MaxAttempts)
                throw new R1Error($"{Where}: request failed {attempt} times, last: {failure.Message}");
            var wait = Backoff(attempt, failure.RetryAfter);
            Interlocked.Increment(ref retries);
            Interlocked.Add(ref retryWaitTicks, wait.Ticks);
            await Task.Delay(wait, cancellation);
        }
    }

    /// <summary>Why a try failed and whether trying again may help.</summary>
    readonly record struct Failure(string Message, bool Retryable, TimeSpan? RetryAfter = null);

    /// <summary>The outcome of one try: a reply, or the failure.</summary>
    readonly record struct Failure<T>(T? Reply, Failure Why) where T : class
    {
        public string Message => Why.Message;
        public bool Retryable => Why.Retryable;
        public TimeSpan? RetryAfter => Why.RetryAfter;
        public static implicit operator Failure<T>(Failure why) => new(null, why);
    }

    async Task<Failure<T>> TryOnceAsync<T>(Uri url, string body, Func<string, T> parse, CancellationToken cancellation) where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(Options.RequestTimeoutSeconds));
        var (response, failure) = await SendAsync(url, body, stream: false, timeout.Token, cancellation);
        if (response is null) return failure;
        using (response)
        {
            try
            {
                var (text, whole) = await ReadAtMostAsync(response.Content, MaxReplyBytes, timeout.Token);
                if (!whole) return new Failure($"the reply is longer than {MaxReplyBytes:N0} bytes", Retryable: false);
                try
                {
                    return new Failure<T>(parse(text), default);
                }
                catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
                {
                    return new Failure($"unreadable reply ({Redact(e.Message)}): {Snippet(text)}", Retryable: true);
                }
            }
            catch (Exception e) when (Lost(e, cancellation) is { } lost)
            {
                return lost;
            }
        }
    }

    /// <summary>
    /// Streams one reply (<c>"stream": true</c>): its thinking and answer deltas as the server sends them, then an update
    /// with the finish reason. One try, no retries; a failure is an <see cref="R1Error"/> naming the URL. The whole stream
    /// must end within <see cref="EndpointOptions.RequestTimeoutSeconds"/>.
    /// </summary>
    public async IAsyncEnumerable<ChatUpdate> StreamAsync(ChatCall call, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        string body = RequestBody(call, stream: true);
        await slots.WaitAsync(cancellation);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(TimeSpan.FromSeconds(Options.RequestTimeoutSeconds));
            Interlocked.Increment(ref requests);
            var (response, failure) = await SendAsync(chatUrl, body, stream: true, deadline.Token, cancellation);
            if (response is null) throw new R1Error($"{Where}: {failure.Message}");
            using (response)
            {
                if (response.Content.Headers.ContentType?.MediaType is not "text/event-stream")
                    throw new R1Error($"{Where}: answered a stream request with '{UntrustedText.Printable(response.Content.Headers.ContentType?.MediaType ?? "no content type", 60)}', "
                        + "not text/event-stream; is it OpenAI-compatible?");
                var events = new BoundedLineReader(await response.Content.ReadAsStreamAsync(deadline.Token), MaxEventLineBytes, $"{Where} event stream");
                var stream = new StreamState();
                while (await NextUpdatesAsync(events, stream, deadline.Token, cancellation) is { } updates)
                    foreach (var update in updates) yield return update;
            }
        }
        finally
        {
            slots.Release();
        }
    }

    sealed class StreamState
    {
        public long Chars;
        public bool Finished;
    }

    /// <summary>The updates of the stream's next event that has any; null once the stream has ended.</summary>
    async Task<List<ChatUpdate>?> NextUpdatesAsync(BoundedLineReader events, StreamState state, CancellationToken deadline, CancellationToken cancellation)
    {
        while (true)
        {
            string? line;
            try
            {
                line = await events.ReadLineAsync(deadline);
            }
            catch (Exception e) when (Lost(e, cancellation) is { } lost) // an over-long line or bad UTF-8 is the reader's R1Error
            {
                throw new R1Error($"{Where}: {lost.Message}", e);
            }
            if (line is null)
            {
                if (state.Finished) return null;
                throw new R1Error($"{Where}: the event stream ended before the reply finished");
            }
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue; // comments, event names, blank separators
            string data = line[5..].TrimStart();
            // A server that sends no finish_reason has still finished.
            if (data == "[DONE]")
            {
                if (state.Finished) return null;
                state.Finished = true;
                return [new ChatUpdate(0, "", "", FinishReason.Stop)];
            }
            var updates = ParseChunk(data);
            foreach (var update in updates)
            {
                state.Chars += update.ReasoningDelta.Length + update.ContentDelta.Length;
                state.Finished |= update.Finish is not null;
            }
            if (state.Chars > MaxReplyBytes) throw new R1Error($"{Where}: the reply is longer than {MaxReplyBytes:N0} characters");
            if (updates.Count > 0) return updates;
        }
    }

    /// <summary>One chunk of a stream: its first choice's thinking and answer deltas, and its finish reason.</summary>
    List<ChatUpdate> ParseChunk(string data)
    {
        JsonNode? chunk;
        try
        {
            chunk = JsonNode.Parse(data);
        }
        catch (JsonException e)
        {
            throw new R1Error($"{Where}: an event is not JSON ({e.Message})", e);
        }
        if (chunk is not JsonObject obj) throw new R1Error($"{Where}: an event is not a JSON object");
        if (obj["error"] is JsonNode error) throw new R1Error($"{Where}: the endpoint reported an error: {ErrorText(error)}");
        if (obj["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice) return [];
        try
        {
            var delta = choice["delta"] as JsonObject;
            string reasoning = Reasoning(delta) ?? "", content = TextOf(delta?["content"]) ?? "";
            var updates = new List<ChatUpdate>();
            if (reasoning.Length > 0 || content.Length > 0) updates.Add(new ChatUpdate(0, reasoning, content));
            if (TextOf(choice["finish_reason"]) is { } finish)
                updates.Add(new ChatUpdate(0, "", "", finish == "length" ? FinishReason.Length : FinishReason.Stop));
            return updates;
        }
        catch (FormatException e)
        {
            throw new R1Error($"{Where}: an event is not a chat completion chunk ({e.Message})", e);
        }
    }

    /// <summary>
    /// Sends one request: the response when its status is a success, else the failure (status, the server's error
    /// message, whether a retry may help and when).
    /// </summary>
    async Task<(HttpResponseMessage? Response, Failure Failure)> SendAsync(Uri url, string body, bool stream, CancellationToken timeout, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (stream) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout);
            if (response.IsSuccessStatusCode) return (response, default);
            int status = (int)response.StatusCode;
            var (text, _) = await ReadAtMostAsync(response.Content, MaxErrorBodyBytes, timeout);
            bool retryable = status is 408 or 409 or 425 or 429 || status >= 500;
            string hint = status switch
            {
                401 or 403 => " (check the key: --api-key-env names the environment variable that holds it)",
                404 => $" (check the URL, which should end where /chat/completions follows, e.g. /v1, and the model name '{UntrustedText.Printable(Options.Model, 100)}')",
                _ => "",
            };
            return (null, new Failure($"HTTP {status} {response.ReasonPhrase}: {ErrorMessage(text)}{hint}", retryable, RetryAfter(response)));
        }
        catch (Exception e) when (Lost(e, cancellation) is { } lost)
        {
            return (null, lost);
        }
        finally
        {
            if (response is { IsSuccessStatusCode: false }) response.Dispose();
        }
    }

    /// <summary>The failure an exception of a request in flight means (null when it is the caller's cancellation, or a bug).</summary>
    Failure? Lost(Exception e, CancellationToken cancellation) => e switch
    {
        OperationCanceledException when !cancellation.IsCancellationRequested => new Failure($"no reply within {Options.RequestTimeoutSeconds:0.###} s", Retryable: true),
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } request =>
            new Failure($"cannot reach {Where} ({Redact(request.Message)})", Retryable: true),
        HttpRequestException or IOException => new Failure($"the connection broke ({Redact(e.Message)})", Retryable: true),
        _ => null,
    };

    /// <summary>At most <paramref name="maxBytes"/> of a body as text, and whether that was all of it.</summary>
    static async Task<(string Text, bool Whole)> ReadAtMostAsync(HttpContent content, int maxBytes, CancellationToken cancellation)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellation);
        var bytes = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
        {
            int room = maxBytes - (int)bytes.Length;
            bytes.Write(chunk, 0, Math.Min(read, room));
            if (read > room) return (Encoding.UTF8.GetString(bytes.GetBuffer(), 0, (int)bytes.Length), false);
        }
        return (Encoding.UTF8.GetString(bytes.GetBuffer(), 0, (int)bytes.Length), true);
    }

    string RequestBody(ChatCall call, bool stream)
    {
        var messages = new JsonArray();
        foreach (var m in call.Messages) messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        var body = new JsonObject
        {
            ["model"] = Options.Model, ["messages"] = messages, ["temperature"] = call.Temperature, ["top_p"] = call.TopP,
            ["max_tokens"] = call.MaxTokens, ["stream"] = stream,
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
        var usage = root["usage"] as JsonObject;
        return ChatReply.From(Reasoning(message), TextOf(message["content"]), TextOf(choice["finish_reason"]), Count(usage?["prompt_tokens"]),
            Count(usage?["completion_tokens"]));
    }

    /// <summary>
    /// A completions reply's <paramref name="n"/> choices in index order, each with vLLM's <c>token_ids</c> and
    /// <c>logprobs.token_logprobs</c> (one per token), and usage (0 when the server sends none).
    /// </summary>
    static TokenReply ParseTokenReply(string text, int n)
    {
        var root = JsonNode.Parse(text) as JsonObject ?? throw new FormatException("not a JSON object");
        if (root["choices"] is not JsonArray choices || choices.Count != n)
            throw new FormatException($"expected {n} choices, got {(root["choices"] as JsonArray)?.Count ?? 0}");
        var result = new TokenChoice?[n];
        for (int position = 0; position < n; position++)
        {
            if (choices[position] is not JsonObject choice) throw new FormatException("a choice is not an object");
            int index = choice["index"] is JsonValue i && i.TryGetValue(out int at) ? at : position;
            if (index < 0 || index >= n || result[index] is not null) throw new FormatException($"choice index {index} is out of 0..{n - 1} or repeated");
            var ids = choice["token_ids"] as JsonArray
                ?? throw new FormatException("a choice has no token_ids (the server must support vLLM's \"return_token_ids\": true)");
            var logprobs = (choice["logprobs"] as JsonObject)?["token_logprobs"] as JsonArray
                ?? throw new FormatException("a choice has no logprobs.token_logprobs (the server must support \"logprobs\": 0)");
            if (ids.Count != logprobs.Count) throw new FormatException($"a choice has {ids.Count} token_ids but {logprobs.Count} token_logprobs");
            result[index] = new TokenChoice(ids.Select(t => t is JsonValue v && v.TryGetValue(out int id) ? id : throw new FormatException("a token id is not an integer")).ToArray(),
                logprobs.Select(l => l is JsonValue v && v.TryGetValue(out double p) ? (float)p : throw new FormatException("a token log-prob is not a number")).ToArray(),
                TextOf(choice["finish_reason"]));
        }
        var usage = root["usage"] as JsonObject;
        return new TokenReply(result.Select(c => c!).ToList(), Count(usage?["prompt_tokens"]), Count(usage?["completion_tokens"]));
    }

    /// <summary>The thinking of a message or delta: <c>reasoning_content</c> (DeepSeek's name), else <c>reasoning</c> (vLLM's, Ollama's, OpenRouter's).</summary>
    static string? Reasoning(JsonObject? message) =>
        TextOf(message?["reasoning_content"]) is { Length: > 0 } reasoning ? reasoning : TextOf(message?["reasoning"]);

    /// <summary>A string, or the text parts of a content array ([{type: "text", text}]); null for null or absent.</summary>
    static string? TextOf(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select(p => p is JsonObject part && TextOf(part["text"]) is { } t ? t : "")),
        _ => throw new FormatException($"expected text, got {UntrustedText.Printable(node.ToJsonString(), 80)}"),
    };

    static int Count(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int n) && n >= 0 ? n : 0;

    /// <summary>The "error.message" of an OpenAI-shaped error body, else the start of the body; never the key.</summary>
    string ErrorMessage(string text)
    {
        try
        {
            if (JsonNode.Parse(text) is JsonObject { } root && root["error"] is JsonNode error) return ErrorText(error);
        }
        catch (JsonException)
        {
        }
        return Snippet(text.Trim());
    }

    /// <summary>An error object's message (or the error itself when it is a string), printable and without the key.</summary>
    string ErrorText(JsonNode error)
    {
        string? message = error switch
        {
            JsonObject o when o["message"] is JsonValue m && m.GetValueKind() == JsonValueKind.String => m.GetValue<string>(),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => null,
        };
        return Snippet(message ?? error.ToJsonString());
    }

    /// <summary>Untrusted text cut to a line fit for an error message, the key replaced by "***".</summary>
    string Snippet(string text) => UntrustedText.Printable(Redact(text), 300);

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
