using System.Net;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace R1Sharp.Tests.Server;

/// <summary>The wire format and the error cases, over plain HTTP (requests no SDK would send).</summary>
[Collection(ServerCollection.Name)]
public class RawHttpTests(ServerFixture servers)
{
    const string Hello = """{"messages":[{"role":"user","content":"hello"}]""";

    public static TheoryData<string, HttpStatusCode, string?, string?> BadRequests => new()
    {
        { """{"messages": [""", HttpStatusCode.BadRequest, null, "invalid_json" },
        { "[1, 2]", HttpStatusCode.BadRequest, null, null },
        { """{"model": "reasoning"}""", HttpStatusCode.BadRequest, "messages", "missing_required_parameter" },
        { """{"messages": []}""", HttpStatusCode.BadRequest, "messages", "empty_array" },
        { """{"messages": "hello"}""", HttpStatusCode.BadRequest, "messages", "invalid_value" },
        { """{"messages": [{"role": "wizard", "content": "hi"}]}""", HttpStatusCode.BadRequest, "messages[0].role", "invalid_value" },
        { """{"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]}""", HttpStatusCode.BadRequest, "messages[1].role", "invalid_value" },
        { """{"messages": [{"role": "user"}]}""", HttpStatusCode.BadRequest, "messages[0].content", "invalid_value" },
        { """{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}""", HttpStatusCode.BadRequest, "messages[0].content[0].type", "invalid_value" },
        { Hello + ""","temperature": 2.5}""", HttpStatusCode.BadRequest, "temperature", "invalid_value" },
        { Hello + ""","temperature": "hot"}""", HttpStatusCode.BadRequest, "temperature", "invalid_type" },
        { Hello + ""","top_p": 0}""", HttpStatusCode.BadRequest, "top_p", "invalid_value" },
        { Hello + ""","max_tokens": 0}""", HttpStatusCode.BadRequest, "max_tokens", "invalid_value" },
        { Hello + ""","max_completion_tokens": 1.5}""", HttpStatusCode.BadRequest, "max_completion_tokens", "invalid_type" },
        { Hello + ""","n": 0}""", HttpStatusCode.BadRequest, "n", "invalid_value" },
        { Hello + ""","n": 1000}""", HttpStatusCode.BadRequest, "n", "invalid_value" },
        { Hello + ""","stop": ["a","b","c","d","e"]}""", HttpStatusCode.BadRequest, "stop", "invalid_value" },
        { Hello + ""","stream_options": {"include_usage": true}}""", HttpStatusCode.BadRequest, "stream_options", "invalid_value" },
        { Hello + ""","frequency_penalty": 0.5}""", HttpStatusCode.BadRequest, "frequency_penalty", "invalid_value" },
        { Hello + ""","max_tokens": 2040}""", HttpStatusCode.BadRequest, "messages", "context_length_exceeded" },
        { Hello + ""","model": "gpt-4o"}""", HttpStatusCode.NotFound, "model", "model_not_found" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_gets_its_status_and_an_openai_error_naming_the_field(string body, HttpStatusCode status, string? param, string? code)
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        using var response = await http.PostAsync("v1/chat/completions", ServerFixture.Json(body));
        Assert.Equal(status, response.StatusCode);
        var error = ServerFixture.Error(await response.Content.ReadAsStringAsync());
        Assert.Equal(param, error.GetProperty("param").GetString());
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(status == HttpStatusCode.NotFound || status == HttpStatusCode.BadRequest ? "invalid_request_error" : null, error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_and_a_body_over_the_limit_are_refused()
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        string longPrompt = new('x', 3000); // 3000 byte tokens, the context is 2048
        using var tooLong = await http.PostAsync("v1/chat/completions", ServerFixture.Json($$"""{"messages":[{"role":"user","content":"{{longPrompt}}"}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var error = ServerFixture.Error(await tooLong.Content.ReadAsStringAsync());
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("2048", error.GetProperty("message").GetString());

        string huge = new('x', 2 << 20);
        // Expect: 100-continue, as curl sends for large bodies: the server answers 413 before the body is sent, so the
        // client never writes into a connection the server has already closed (a broken pipe under load otherwise).
        using var bigRequest = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = ServerFixture.Json($$"""{"messages":[{"role":"user","content":"{{huge}}"}]}"""),
        };
        bigRequest.Headers.ExpectContinue = true;
        using var tooBig = await http.SendAsync(bigRequest);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal("request_too_large", ServerFixture.Error(await tooBig.Content.ReadAsStringAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task The_wire_format_has_both_reasoning_fields_n_choices_and_a_usage_chunk_before_done()
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        const string ask = """{"model":"reasoning","messages":[{"role":"user","content":[{"type":"text","text":"What is "},{"type":"text","text":"2+2?"}]}],"temperature":0,"max_tokens":120""";

        using var plain = await http.PostAsync("v1/chat/completions", ServerFixture.Json(ask + ""","n":2}"""));
        using var doc = JsonDocument.Parse(await plain.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.Equal(2, root.GetProperty("choices").GetArrayLength());
        foreach (var choice in root.GetProperty("choices").EnumerateArray())
        {
            var message = choice.GetProperty("message");
            Assert.Equal("assistant", message.GetProperty("role").GetString());
            Assert.Equal(ServerTestModels.Reasoning, message.GetProperty("reasoning_content").GetString());
            Assert.Equal(ServerTestModels.Reasoning, message.GetProperty("reasoning").GetString());
            Assert.Equal(ServerTestModels.Answer, message.GetProperty("content").GetString());
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        }
        Assert.Equal(0, root.GetProperty("choices")[0].GetProperty("index").GetInt32());
        Assert.Equal(1, root.GetProperty("choices")[1].GetProperty("index").GetInt32());
        var usage = root.GetProperty("usage");
        int perChoice = ServerTestModels.Reasoning.Length + 1 + ServerTestModels.Answer.Length + 1;
        Assert.Equal(2 * perChoice, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(2 * (ServerTestModels.Reasoning.Length + 1), usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());

        using var streamed = await http.PostAsync("v1/chat/completions", ServerFixture.Json(ask + ""","stream":true,"stream_options":{"include_usage":true}}"""));
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType!.MediaType);
        var events = await ServerFixture.ReadEvents(streamed);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.Equal(ServerTestModels.Reasoning, string.Concat(deltas.Select(d => Field(d.GetProperty("delta"), "reasoning_content"))));
        Assert.Equal(ServerTestModels.Reasoning, string.Concat(deltas.Select(d => Field(d.GetProperty("delta"), "reasoning"))));
        Assert.Equal(ServerTestModels.Answer, string.Concat(deltas.Select(d => Field(d.GetProperty("delta"), "content"))));
        Assert.Equal("stop", deltas[^1].GetProperty("finish_reason").GetString());
        Assert.All(deltas[..^1], d => Assert.Equal(JsonValueKind.Null, d.GetProperty("finish_reason").ValueKind));
        // The usage chunk comes last, with no choices; the chunks before it carry "usage": null.
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.Equal(perChoice, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
    }

    [Fact]
    public async Task Reasoning_sent_back_on_an_earlier_assistant_turn_is_dropped()
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        async Task<int> PromptTokens(string assistantTurn)
        {
            using var response = await http.PostAsync("v1/chat/completions", ServerFixture.Json(
                $$"""{"messages":[{"role":"user","content":"What is 2+2?"},{{assistantTurn}},{"role":"user","content":"hello"}],"max_tokens":1}"""));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        }
        int withReasoning = await PromptTokens("""{"role":"assistant","content":"It is 4.","reasoning_content":"Let me think very hard about this for a long while."}""");
        int without = await PromptTokens("""{"role":"assistant","content":"It is 4."}""");
        Assert.Equal(without, withReasoning);
    }

    [Fact]
    public async Task Models_health_and_unknown_urls()
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        using var models = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        Assert.Equal("list", models.RootElement.GetProperty("object").GetString());
        Assert.Equal("reasoning", models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        using var health = JsonDocument.Parse(await http.GetStringAsync("health"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Equal(2048, health.RootElement.GetProperty("context_length").GetInt32());
        using var missing = await http.GetAsync("v1/embeddings");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        ServerFixture.Error(await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_an_api_key_v1_needs_the_bearer_key_and_the_page_and_health_stay_open()
    {
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir, o => o with { ApiKey = "sekret" });
        using var anonymous = ServerFixture.Http(server);
        using var wrong = ServerFixture.Http(server, apiKey: "guess");
        using var right = ServerFixture.Http(server, apiKey: "sekret");

        using var missing = await anonymous.PostAsync("v1/chat/completions", ServerFixture.Json(Hello + "}"));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("missing_api_key", ServerFixture.Error(await missing.Content.ReadAsStringAsync()).GetProperty("code").GetString());
        using var bad = await wrong.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.Equal("invalid_api_key", ServerFixture.Error(await bad.Content.ReadAsStringAsync()).GetProperty("code").GetString());
        using var ok = await right.PostAsync("v1/chat/completions", ServerFixture.Json(
            """{"messages":[{"role":"developer","content":"Be brief."},{"role":"system","content":"Really."},{"role":"user","content":"hi"}],"max_tokens":3}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/")).StatusCode);

        var sdk = await Assert.ThrowsAsync<System.ClientModel.ClientResultException>(() =>
            ServerFixture.OpenAiChat(server, apiKey: "guess").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, sdk.Status);
    }

    [Fact]
    public async Task A_full_queue_answers_429_and_a_client_that_leaves_mid_stream_frees_its_slot()
    {
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir, o => o with
        {
            Serving = o.Serving with { MaxBatch = 1, MaxQueue = 1 },
        });
        using var http = ServerFixture.Http(server);
        // Greedy from "hello", the random model runs 64000 tokens without an EOS: the stream lasts until we leave.
        const string endless = """{"messages":[{"role":"user","content":"hello"}],"temperature":0,"max_tokens":64000,"stream":true}""";
        using var leave = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = ServerFixture.Json(endless) };
        var streaming = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leave.Token);
        var reader = new StreamReader(await streaming.Content.ReadAsStreamAsync(leave.Token));
        for (int i = 0; i < 5; i++) Assert.StartsWith("data: ", await NextEvent(reader));
        Assert.Equal(1, server.Service.Batcher.ActiveRows);

        var waiting = http.PostAsync("v1/chat/completions", ServerFixture.Json(Hello + ""","max_tokens":4}"""));
        await WaitUntil(() => server.Service.Batcher.Queued == 1);
        using var refused = await http.PostAsync("v1/chat/completions", ServerFixture.Json(Hello + "}"));
        Assert.Equal((HttpStatusCode)429, refused.StatusCode);
        Assert.Equal("queue_full", ServerFixture.Error(await refused.Content.ReadAsStringAsync()).GetProperty("code").GetString());

        leave.Cancel();
        streaming.Dispose();
        // The waiting request gets the only slot once the abandoned stream has stopped, long before its 64000 tokens.
        using var served = await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.True(server.Service.Batcher.Stats.Tokens < 8000, $"{server.Service.Batcher.Stats.Tokens} tokens: the abandoned stream went on");
        await WaitUntil(() => server.Service.Batcher.ActiveRows == 0);
    }

    [Fact]
    public async Task An_ichatclient_over_http_through_microsoft_extensions_ai_openai_works()
    {
        IChatClient client = ServerFixture.OpenAiChat(servers.Reasoning).AsIChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 120 };
        var response = await client.GetResponseAsync("What is 2+2?", options);
        Assert.Equal(ServerTestModels.Answer, response.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(ServerTestModels.Reasoning.Length + 1, response.Usage!.ReasoningTokenCount);

        var streamed = "";
        await foreach (var update in client.GetStreamingResponseAsync("What is 2+2?", options)) streamed += update.Text;
        Assert.Equal(ServerTestModels.Answer, streamed);
    }

    static string Field(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    static async Task<string> NextEvent(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
            if (line.Length > 0) return line;
        throw new EndOfStreamException();
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in 30 s");
            await Task.Delay(20);
        }
    }
}
