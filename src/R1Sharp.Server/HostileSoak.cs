using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using R1Sharp.Checkpoints;
using R1Sharp.Model;

namespace R1Sharp.Server;

/// <summary>How `r1 bench serve-hostile` runs.</summary>
public sealed record HostileSoakOptions
{
    /// <summary>Model to serve; null makes a tiny random llama in a temp folder.</summary>
    public string? ModelDir { get; init; }
    /// <summary>Requests sent in all, hostile and normal mixed in a seeded order.</summary>
    public int Requests { get; init; } = 800;
    /// <summary>Share of the requests that are normal ones, each checked against its answer when sent alone.</summary>
    public double NormalShare { get; init; } = 0.25;
    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 8;
    /// <summary>Completion length of a normal request.</summary>
    public int MaxTokens { get; init; } = 8;
    /// <summary>Most the process's resident memory may grow from after the warm-up to the end.</summary>
    public long MaxRssGrowthBytes { get; init; } = 256L << 20;
    public int Seed { get; init; } = 1;
}

/// <summary>One kind of request: how many were sent and how many got the answer they should.</summary>
public sealed record HostileSoakKind(string Kind, string Expected, int Sent, int Handled);

/// <summary>What the soak saw. It passes when every request got its expected answer and memory stayed bounded.</summary>
public sealed record HostileSoakResult(string Model, int Requests, int Concurrency, IReadOnlyList<HostileSoakKind> Kinds,
    IReadOnlyList<string> Failures, long RssAfterWarmUpBytes, long RssAtEndBytes, long MaxRssGrowthBytes, long PieceCacheBytes, double Seconds)
{
    public long RssGrowthBytes => RssAtEndBytes - RssAfterWarmUpBytes;
    public bool Passed => Failures.Count == 0 && RssGrowthBytes <= MaxRssGrowthBytes;
}

/// <summary>
/// A real server on loopback under hundreds of oversized, malformed, wrongly typed, wrongly addressed, invalid-Unicode
/// and abandoned requests mixed with normal ones (issue #20). Every normal request must get the same completion it
/// gets alone (greedy), every hostile one its 4xx in OpenAI's shape, the server must be idle afterwards, and the
/// process's memory may grow by at most <see cref="HostileSoakOptions.MaxRssGrowthBytes"/> after the warm-up.
/// </summary>
public static class HostileSoak
{
    enum Kind { Normal, NormalStream, Oversized, TooMuchText, MalformedJson, WrongContentType, BadHost, InvalidUnicode, LeaveMidStream, LeaveMidUpload }

    static readonly Dictionary<Kind, string> Expected = new()
    {
        [Kind.Normal] = "200, same completion as alone",
        [Kind.NormalStream] = "200 stream, same completion as alone",
        [Kind.Oversized] = "413 request_too_large",
        [Kind.TooMuchText] = "400 context_length_exceeded",
        [Kind.MalformedJson] = "400",
        [Kind.WrongContentType] = "415 unsupported_media_type",
        [Kind.BadHost] = "400 invalid_host",
        [Kind.InvalidUnicode] = "400 invalid_encoding",
        [Kind.LeaveMidStream] = "200 stream, left after 2 events",
        [Kind.LeaveMidUpload] = "body cut off, connection closed",
    };

    static readonly string[] Questions = ["What is 2+2?", "Name a prime.", "hello", "Count to three."];

    public static async Task<HostileSoakResult> RunAsync(HostileSoakOptions options, Action<string>? log = null, CancellationToken cancellation = default)
    {
        if (options.Requests < 1 || options.Concurrency < 1 || options.MaxTokens < 1 || options.NormalShare is < 0 or > 1)
            throw new R1Error("serve-hostile needs --requests, --concurrency and --max-tokens of at least 1 and a normal share in [0, 1]");
        string modelDir = options.ModelDir ?? TinyRandomModel(options.Seed);
        try
        {
            return await RunAsync(modelDir, options, log, cancellation);
        }
        finally
        {
            if (options.ModelDir is null) Directory.Delete(Path.GetDirectoryName(modelDir)!, recursive: true);
        }
    }

    static async Task<HostileSoakResult> RunAsync(string modelDir, HostileSoakOptions options, Action<string>? log, CancellationToken cancellation)
    {
        log?.Invoke($"serving {modelDir}");
        var serverOptions = new ServerOptions(modelDir) { Port = 0 };
        await using var server = await R1Server.StartAsync(serverOptions, cancellation);
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        var soak = new Soak(server, http, options, serverOptions.MaxRequestBodyBytes);

        // Warm-up: each question's answer alone, and one request of every kind, before memory is measured.
        foreach (string question in Questions) soak.References[question] = await soak.Complete(question, stream: false, cancellation);
        foreach (Kind kind in Enum.GetValues<Kind>()) await soak.Send(kind, 0, cancellation);
        soak.Failures.Clear();
        long rssBefore = SettledRss();

        var random = new Random(options.Seed);
        Kind[] hostile = Enum.GetValues<Kind>().Where(k => k is not (Kind.Normal or Kind.NormalStream)).ToArray();
        Kind[] plan = Enumerable.Range(0, options.Requests).Select(_ => random.NextDouble() < options.NormalShare
            ? (random.Next(2) == 0 ? Kind.Normal : Kind.NormalStream) : hostile[random.Next(hostile.Length)]).ToArray();
        var sent = new int[Enum.GetValues<Kind>().Length];
        var handled = new int[sent.Length];
        int next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < plan.Length;)
            {
                Interlocked.Increment(ref sent[(int)plan[i]]);
                if (await soak.Send(plan[i], i, cancellation)) Interlocked.Increment(ref handled[(int)plan[i]]);
                if (i % 100 == 99) log?.Invoke($"{i + 1}/{plan.Length} requests");
            }
        }));
        await soak.WaitUntilIdle(cancellation);
        // Still serving after all that: every question once more.
        foreach (string question in Questions) await soak.Send(Kind.Normal, Array.IndexOf(Questions, question), cancellation);
        double seconds = clock.Elapsed.TotalSeconds;
        long rssAfter = SettledRss();

        var kinds = Enum.GetValues<Kind>().Select(k => new HostileSoakKind(k.ToString(), Expected[k], sent[(int)k], handled[(int)k])).ToList();
        return new HostileSoakResult(Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDir)), options.Requests, options.Concurrency, kinds,
            [.. soak.Failures], rssBefore, rssAfter, options.MaxRssGrowthBytes, server.Service.Bundle.Tokenizer.PieceCacheBytes, seconds);
    }

    static string TinyRandomModel(int seed)
    {
        string dir = Path.Combine(Directory.CreateTempSubdirectory("r1sharp-hostile-").FullName, "llama-tiny");
        ModelInitializer.Create(ModelFamily.Llama, "tiny", dir, seed);
        return dir;
    }

    /// <summary>Resident memory after a full, compacting collection that returns free memory to the system.</summary>
    static long SettledRss()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    sealed class Soak(R1Server server, HttpClient http, HostileSoakOptions options, long maxBodyBytes)
    {
        public Dictionary<string, (string Text, string? Finish)> References { get; } = [];
        public System.Collections.Concurrent.ConcurrentQueue<string> Failures { get; } = new();

        string Body(string question, bool stream, int maxTokens) => JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = question } }, temperature = 0, max_tokens = maxTokens, stream,
        });

        /// <summary>Sends one request of the kind; true when it was answered as it should be.</summary>
        public async Task<bool> Send(Kind kind, int index, CancellationToken cancellation)
        {
            try
            {
                string? problem = kind switch
                {
                    Kind.Normal or Kind.NormalStream => await CheckNormal(Questions[index % Questions.Length], kind == Kind.NormalStream, cancellation),
                    // As curl sends a large body: after "Expect: 100-continue", so a refusal comes before the upload.
                    Kind.Oversized => await Refused(ExpectContinue(Post(Json(TextOfBytes(index, (int)Math.Min(maxBodyBytes + (64 << 10), int.MaxValue / 2))))),
                        413, "request_too_large", cancellation),
                    Kind.TooMuchText => await Refused(Post(Json(TextOfBytes(index, 900 << 10))), 400, "context_length_exceeded", cancellation),
                    Kind.MalformedJson => await Refused(Post(new StringContent(Malformed(index), Encoding.UTF8, "application/json")), 400, null, cancellation),
                    Kind.WrongContentType => await Refused(Post(new StringContent(Body("hi", false, 1), Encoding.UTF8, "text/plain")), 415, "unsupported_media_type", cancellation),
                    Kind.BadHost => await Refused(WithHost(Post(Json(Body("hi", false, 1))), $"rebound-{index}.example"), 400, "invalid_host", cancellation),
                    Kind.InvalidUnicode => await Refused(Post(InvalidUnicode(index)), 400, "invalid_encoding", cancellation),
                    Kind.LeaveMidStream => await LeaveMidStream(cancellation),
                    Kind.LeaveMidUpload => await LeaveMidUpload(cancellation),
                    _ => throw new ArgumentOutOfRangeException(nameof(kind)),
                };
                if (problem is null) return true;
                Failures.Enqueue($"{kind} #{index}: {problem}");
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                Failures.Enqueue($"{kind} #{index}: {e.GetType().Name}: {e.Message}");
            }
            return false;
        }

        public async Task<(string Text, string? Finish)> Complete(string question, bool stream, CancellationToken cancellation)
        {
            using var response = await http.SendAsync(Post(Json(Body(question, stream, options.MaxTokens))), cancellation);
            string body = await response.Content.ReadAsStringAsync(cancellation);
            if (response.StatusCode != HttpStatusCode.OK) throw new HttpRequestException($"HTTP {(int)response.StatusCode}: {Cut(body)}");
            if (!stream)
            {
                using var doc = JsonDocument.Parse(body);
                var choice = doc.RootElement.GetProperty("choices")[0];
                var message = choice.GetProperty("message");
                return (Field(message, "reasoning_content") + "|" + Field(message, "content"), Field(choice, "finish_reason"));
            }
            var lines = body.Split('\n').Where(l => l.StartsWith("data: ")).Select(l => l["data: ".Length..]).ToList();
            if (lines.Count == 0 || lines[^1] != "[DONE]") throw new HttpRequestException($"the stream did not end with [DONE]: {Cut(body)}");
            string reasoning = "", content = "";
            string? finish = null;
            foreach (string line in lines[..^1])
            {
                using var chunk = JsonDocument.Parse(line);
                if (chunk.RootElement.TryGetProperty("error", out var error)) throw new HttpRequestException($"error event: {Cut(error.GetRawText())}");
                var choice = chunk.RootElement.GetProperty("choices")[0];
                reasoning += Field(choice.GetProperty("delta"), "reasoning_content");
                content += Field(choice.GetProperty("delta"), "content");
                finish ??= Field(choice, "finish_reason");
            }
            return (reasoning + "|" + content, finish);
        }

        async Task<string?> CheckNormal(string question, bool stream, CancellationToken cancellation)
        {
            var got = await Complete(question, stream, cancellation);
            var want = References[question];
            return got == want ? null : $"completion {Cut(got.Text)} ({got.Finish}) differs from {Cut(want.Text)} ({want.Finish}) alone";
        }

        async Task<string?> Refused(HttpRequestMessage request, int status, string? code, CancellationToken cancellation)
        {
            using (request)
            using (var response = await http.SendAsync(request, cancellation))
            {
                string body = await response.Content.ReadAsStringAsync(cancellation);
                if ((int)response.StatusCode != status) return $"HTTP {(int)response.StatusCode}, expected {status}: {Cut(body)}";
                using var doc = JsonDocument.Parse(body);
                var error = doc.RootElement.GetProperty("error");
                if (error.GetProperty("message").ValueKind != JsonValueKind.String) return $"no error message: {Cut(body)}";
                if (code is not null && Field(error, "code") != code) return $"code {Field(error, "code")}, expected {code}";
                return null;
            }
        }

        async Task<string?> LeaveMidStream(CancellationToken cancellation)
        {
            using var leave = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var request = Post(Json(Body("hello", stream: true, maxTokens: 256)));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
            if (response.StatusCode != HttpStatusCode.OK) return $"HTTP {(int)response.StatusCode}";
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(leave.Token));
            for (int events = 0; events < 2;)
                if ((await reader.ReadLineAsync(leave.Token) ?? throw new IOException("the stream ended early")).StartsWith("data: ")) events++;
            leave.Cancel(); // the client goes away mid-stream
            return null;
        }

        /// <summary>Promises a body, sends a little of it and closes the connection.</summary>
        async Task<string?> LeaveMidUpload(CancellationToken cancellation)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, cancellation);
            var stream = client.GetStream();
            byte[] head = Encoding.ASCII.GetBytes($"POST /v1/chat/completions HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\n" +
                "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"messages\":[{\"role\":\"user\",\"content\":\"");
            await stream.WriteAsync(head, cancellation);
            await stream.FlushAsync(cancellation);
            return null;
        }

        public async Task WaitUntilIdle(CancellationToken cancellation)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                using var health = JsonDocument.Parse(await http.GetStringAsync("health", cancellation));
                int active = health.RootElement.GetProperty("active_sequences").GetInt32(), queued = health.RootElement.GetProperty("queued_requests").GetInt32();
                if (active == 0 && queued == 0) return;
                if (DateTime.UtcNow > deadline)
                {
                    Failures.Enqueue($"60 s after the last request the server still has {active} active sequences and {queued} queued requests");
                    return;
                }
                await Task.Delay(100, cancellation);
            }
        }

        static HttpRequestMessage Post(HttpContent content) => new(HttpMethod.Post, "v1/chat/completions") { Content = content };

        static HttpRequestMessage WithHost(HttpRequestMessage request, string host)
        {
            request.Headers.Host = host;
            return request;
        }

        static HttpRequestMessage ExpectContinue(HttpRequestMessage request)
        {
            request.Headers.ExpectContinue = true;
            return request;
        }

        static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

        /// <summary>A chat whose one message is about <paramref name="bytes"/> of distinct words (every request its own).</summary>
        string TextOfBytes(int index, int bytes)
        {
            var random = new Random(options.Seed * 7919 + index);
            var text = new StringBuilder(bytes);
            while (text.Length < bytes)
            {
                for (int i = 0; i < 12; i++) text.Append((char)('a' + random.Next(26)));
                text.Append(' ');
            }
            return JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = text.ToString() } }, max_tokens = 1 });
        }

        static string Malformed(int index) => (index % 6) switch
        {
            0 => """{"messages": [{"role": "user", "content": "cut off""",
            1 => "[1, 2, 3]",
            2 => new string('[', 5000) + new string(']', 5000),
            3 => """{"messages": 5}""",
            4 => """{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}""",
            _ => """{"messages": [{"role": "wizard", "content": "hi"}]}""",
        };

        static ByteArrayContent InvalidUnicode(int index)
        {
            // A lone surrogate escape, or the byte 0xFF, which is never UTF-8.
            byte[] body = index % 2 == 0
                ? Encoding.ASCII.GetBytes("""{"messages": [{"role": "user", "content": "a\ud800b"}]}""")
                : [.. Encoding.ASCII.GetBytes("""{"messages": [{"role": "user", "content": "a"""), 0xFF, .. Encoding.ASCII.GetBytes("\"}]}")];
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return content;
        }

        static string? Field(JsonElement obj, string name) =>
            obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

        static string Cut(string text) => text.Length <= 200 ? text : text[..197] + "...";
    }
}
