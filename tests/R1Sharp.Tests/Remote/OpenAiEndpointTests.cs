using System.Text.Json.Nodes;
using R1Sharp.Generation;
using R1Sharp.Serving;
using R1Sharp.Remote;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Remote;

public class OpenAiEndpointTests
{
    static readonly ChatCall Call = new([ChatMessage.User("What is 2+2?")], 0.6, 0.95, 64, Seed: -5);

    static OpenAiEndpoint Client(StubEndpoint stub, string? key = null, int attempts = 8, double timeout = 10) => new(new EndpointOptions
    {
        Url = stub.Url, Model = "stub-model", MaxAttempts = attempts, RequestTimeoutSeconds = timeout, FirstRetryDelaySeconds = 0.01,
        MaxRetryDelaySeconds = 0.05,
    }, key);

    [Fact]
    public void The_thinking_comes_from_reasoning_content_reasoning_or_a_think_block_and_is_written_as_after_an_opened_think()
    {
        Assert.Equal("R</think>A", ChatReply.From("R", "A", "stop", 1, 2).Completion);
        Assert.Equal("R</think>A", ChatReply.From(null, "<think>R</think>A", "stop", 1, 2).Completion);
        Assert.Equal("R</think>A", ChatReply.From(null, "\n<think>R</think>A", "stop", 1, 2).Completion);
        Assert.Equal("R</think>A", ChatReply.From("", "R</think>A", "stop", 1, 2).Completion); // the template opened the block
        Assert.Equal("</think>A", ChatReply.From(null, "A", "stop", 1, 2).Completion);          // no reasoning: an empty block
        Assert.Equal("still thinking", ChatReply.From("still thinking", null, "length", 1, 2).Completion);
        Assert.Equal("cut short", ChatReply.From(null, "<think>cut short", "length", 1, 2).Completion); // never closed
        Assert.True(ChatReply.From("R", null, "length", 1, 2).HitLimit);
        Assert.False(ChatReply.From("R", "A", "stop", 1, 2).HitLimit);
    }

    [Fact]
    public void One_sample_requests_draw_what_the_samples_of_one_request_draw()
    {
        foreach (int seed in new[] { 0, 7, -5, int.MaxValue, int.MinValue, Seeds.ForPrompt(3, 11) })
            for (int sample = 0; sample < 5; sample++)
                Assert.Equal(Seeds.Sample(seed, sample).Next(), Seeds.Sample(Seeds.ForOneSample(seed, sample), 0).Next());
        Assert.Equal(5, Enumerable.Range(0, 5).Select(j => Seeds.ForOneSample(42, j)).Distinct().Count());
    }

    [Fact]
    public async Task A_reply_is_read_from_the_servers_fields_with_its_usage_and_the_request_carries_model_sampling_and_seed()
    {
        var answers = new Queue<StubAnswer>([
            new StubAnswer.Reply("think", "4"),
            new StubAnswer.Reply(null, "4", Reasoning: "ollama thinks"),
            new StubAnswer.Reply(null, "<think>inline</think>4", "length", Usage: false),
        ]);
        await using var stub = await StubEndpoint.StartAsync(_ => answers.Dequeue());
        using var endpoint = Client(stub);
        var first = await endpoint.CompleteAsync(Call);
        Assert.Equal(("think", "4", "think</think>4", 7, 5), (first.Reasoning, first.Content, first.Completion, first.PromptTokens, first.CompletionTokens));
        Assert.Equal("ollama thinks</think>4", (await endpoint.CompleteAsync(Call)).Completion);
        var third = await endpoint.CompleteAsync(Call);
        Assert.Equal(("inline</think>4", true, 0), (third.Completion, third.HitLimit, third.CompletionTokens));

        var sent = stub.Requests.First();
        Assert.Equal("stub-model", (string)sent.Body["model"]!);
        Assert.Equal(0.6, (double)sent.Body["temperature"]!);
        Assert.Equal(0.95, (double)sent.Body["top_p"]!);
        Assert.Equal(64, (int)sent.Body["max_tokens"]!);
        Assert.Equal(unchecked((long)(uint)-5), sent.Seed); // all 32 bits, as a non-negative number every server takes
        Assert.Equal("What is 2+2?", sent.UserText);
        Assert.Null(sent.Authorization);
        Assert.Equal(new EndpointCounts(3, 0, 14, 10, 0), endpoint.Counts); // the third sent no usage
    }

    [Fact]
    public async Task Rate_limits_server_errors_dropped_connections_and_timeouts_are_retried_with_backoff_honouring_retry_after()
    {
        var answers = new Queue<StubAnswer>([
            new StubAnswer.Error(429, "slow down", RetryAfter: "1"), new StubAnswer.Error(500), new StubAnswer.Drop(), new StubAnswer.Hang(),
            new StubAnswer.Error(503), new StubAnswer.Reply("R", "A"),
        ]);
        await using var stub = await StubEndpoint.StartAsync(_ => answers.Dequeue());
        // The timeout must outlast every answer but the hang on a loaded machine: at 0.5 s a slow 503 once counted twice.
        using var endpoint = Client(stub, timeout: 3);
        var reply = await endpoint.CompleteAsync(Call);
        Assert.Equal("R</think>A", reply.Completion);
        var counts = endpoint.Counts;
        Assert.Equal((6, 5), (counts.Requests, counts.Retries));
        Assert.True(counts.RetryWaitSeconds >= 1, $"waited {counts.RetryWaitSeconds} s, Retry-After said 1 s");
        Assert.Equal(6, stub.Requests.Count);
        Assert.Single(stub.Requests.Select(r => r.Body.ToJsonString()).Distinct()); // the same request each time
    }

    [Fact]
    public async Task Attempts_are_bounded_and_other_client_errors_fail_at_once_without_showing_the_key()
    {
        const string key = "sk-test-0123456789abcdef";
        await using (var down = await StubEndpoint.StartAsync(_ => new StubAnswer.Error(503, "overloaded")))
        {
            using var endpoint = Client(down, key, attempts: 3);
            var error = await Assert.ThrowsAsync<R1Error>(() => endpoint.CompleteAsync(Call));
            Assert.Contains("failed 3 times", error.Message);
            Assert.Contains("503", error.Message);
            Assert.Contains("overloaded", error.Message);
            Assert.Equal(3, down.Requests.Count);
            Assert.All(down.Requests, r => Assert.Equal("Bearer " + key, r.Authorization));
        }
        // A server that echoes the key in its error (some do, masked or not): the message shows "***" instead.
        await using var strict = await StubEndpoint.StartAsync(r => new StubAnswer.Error(401, $"Incorrect API key provided: {r.Authorization}"));
        using var client = Client(strict, key);
        var unauthorized = await Assert.ThrowsAsync<R1Error>(() => client.CompleteAsync(Call));
        Assert.Single(strict.Requests);
        Assert.Contains("HTTP 401", unauthorized.Message);
        Assert.Contains("--api-key-env", unauthorized.Message);
        Assert.DoesNotContain(key, unauthorized.Message);
        Assert.Contains("Bearer ***", unauthorized.Message);
    }

    [Fact]
    public async Task Cancelling_stops_waiting_at_once()
    {
        await using var stub = await StubEndpoint.StartAsync(_ => new StubAnswer.Hang());
        using var endpoint = Client(stub);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => endpoint.CompleteAsync(Call, cancel.Token));
        Assert.Equal(0, endpoint.Counts.Retries);
    }

    [Fact]
    public void Bad_options_and_keys_are_user_errors_that_never_echo_the_key()
    {
        EndpointOptions Options(string url) => new() { Url = url, Model = "m" };
        Assert.Contains("http", Assert.Throws<R1Error>(() => new OpenAiEndpoint(Options("ftp://host/v1"))).Message);
        Assert.Contains("http", Assert.Throws<R1Error>(() => new OpenAiEndpoint(Options("localhost:8080"))).Message);
        Assert.Throws<R1Error>(() => new OpenAiEndpoint(Options("http://h/v1") with { Concurrency = 0 }));
        Assert.Throws<R1Error>(() => new OpenAiEndpoint(Options("http://h/v1") with { Model = " " }));
        var bad = Assert.Throws<R1Error>(() => new OpenAiEndpoint(Options("http://h/v1"), "sk-secret\nInjected: header"));
        Assert.DoesNotContain("sk-secret", bad.Message);
        Assert.Equal("https://api.example.com/v1", OpenAiEndpoint.Display("https://user:sk-secret@api.example.com/v1?api-key=sk-secret"));
        Assert.Contains("R1_NOT_SET_", Assert.Throws<R1Error>(() => OpenAiEndpoint.KeyFromEnvironment("R1_NOT_SET_" + Guid.NewGuid().ToString("N"))).Message);
        Assert.Null(OpenAiEndpoint.KeyFromEnvironment(null));
    }

    static string Delta(string field, string text, string? finish = null) =>
        new JsonObject { ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = new JsonObject { [field] = text }, ["finish_reason"] = finish }) }.ToJsonString();

    [Fact]
    public async Task A_stream_yields_thinking_from_reasoning_content_or_reasoning_apart_from_the_answer_and_fails_by_name_when_cut()
    {
        var answers = new Queue<StubAnswer>([
            new StubAnswer.Events([Delta("reasoning_content", "two and "), Delta("reasoning", "two"), Delta("content", "4"), Delta("content", "", "stop"), "[DONE]"]),
            new StubAnswer.Events([Delta("content", "4"), "[DONE]"]),                  // no finish_reason: [DONE] still ends it
            new StubAnswer.Events([Delta("reasoning_content", "cut")]),                // the connection ends mid-reply
            new StubAnswer.Events(["""{"error": {"message": "overloaded"}}"""]),
            new StubAnswer.Events(["{not json"]),
            new StubAnswer.Events([Delta("content", "4")], ContentType: "application/json"),
            new StubAnswer.Error(429, "slow down", RetryAfter: "1"),
        ]);
        await using var stub = await StubEndpoint.StartAsync(_ => answers.Dequeue());
        using var endpoint = Client(stub);
        async Task<List<ChatUpdate>> Stream()
        {
            var updates = new List<ChatUpdate>();
            await foreach (var update in endpoint.StreamAsync(Call)) updates.Add(update);
            return updates;
        }
        var first = await Stream();
        Assert.Equal("two and two", string.Concat(first.Select(u => u.ReasoningDelta)));
        Assert.Equal("4", string.Concat(first.Select(u => u.ContentDelta)));
        Assert.Equal(FinishReason.Stop, first[^1].Finish);
        Assert.True((bool)stub.Requests.First().Body["stream"]!);
        Assert.Equal(FinishReason.Stop, (await Stream())[^1].Finish);
        Assert.Contains("ended before the reply finished", (await Assert.ThrowsAsync<R1Error>(Stream)).Message);
        Assert.Contains("overloaded", (await Assert.ThrowsAsync<R1Error>(Stream)).Message);
        Assert.Contains("not JSON", (await Assert.ThrowsAsync<R1Error>(Stream)).Message);
        Assert.Contains("text/event-stream", (await Assert.ThrowsAsync<R1Error>(Stream)).Message);
        // A stream is tried once: someone is watching it.
        Assert.Contains("HTTP 429", (await Assert.ThrowsAsync<R1Error>(Stream)).Message);
        Assert.Equal((7, 0), (endpoint.Counts.Requests, endpoint.Counts.Retries));
    }
}
