using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using R1Sharp.Checkpoints;
using R1Sharp.Server;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Server;

/// <summary>
/// What one request must not do to the others (issue #20, the parts in the decode engine), against real servers on
/// loopback: a request whose KV cache does not fit fails alone before it joins (or waits, if it fits alone); a waiting
/// client that leaves frees its queue slot at once; a near-zero temperature is greedy; non-finite logits fail only the
/// request whose rows have them; 500 bodies carry no internals.
/// </summary>
[Collection(ServerCollection.Name)]
public class EngineHardeningTests(ServerFixture servers)
{
    static string Ask(string content, int maxTokens, bool stream = false, double temperature = 1, int seed = 1) =>
        JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } }, max_tokens = maxTokens, temperature, seed, stream });

    [Fact]
    public async Task A_request_whose_cache_cannot_fit_fails_alone_and_one_that_fits_alone_waits_without_hurting_the_running_ones()
    {
        // 512 bytes of cache per position (tiny llama: 2 layers × K and V × 2 heads × 16 × 4 bytes): 4 MiB is 8192 positions.
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir, o => o with
        {
            Serving = o.Serving with { MaxBatch = 4, MaxCacheBytes = 4 << 20 },
        });
        using var http = ServerFixture.Http(server);
        // Greedy from "hello" the random model meets no EOS: each stream runs its 2400 tokens (3 × 2412 positions fit),
        // long enough to still be running while the requests below arrive.
        var streams = Enumerable.Range(0, 3).Select(i => http.PostAsync("v1/chat/completions",
            ServerFixture.Json(Ask("hello", maxTokens: 2400, stream: true, temperature: 0)))).ToList();
        await WaitUntil(() => server.Service.Batcher.ActiveRows == 3);

        // 1 × (prompt + 10000) positions can never fit: refused at once, before it joins.
        using var huge = await http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("huge", maxTokens: 10000)));
        Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
        string message = ServerFixture.Error(await huge.Content.ReadAsStringAsync()).GetProperty("message").GetString()!;
        Assert.Contains("KV cache", message);
        Assert.Contains("max_tokens", message);
        // 1500 fits alone but not beside the three: it waits for them and then runs.
        var medium = http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("medium", maxTokens: 1500)));
        await WaitUntil(() => server.Service.Batcher.Queued == 1);
        Assert.Equal(3, server.Service.Batcher.ActiveRows);

        foreach (var stream in streams)
        {
            using var response = await stream;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var events = await ServerFixture.ReadEvents(response);
            Assert.Equal("[DONE]", events[^1]);
            Assert.DoesNotContain(events, e => e.Contains("\"error\""));
            Assert.Contains(events, e => e.Contains("\"finish_reason\":\"length\""));
        }
        using var mediumReply = await medium;
        Assert.Equal(HttpStatusCode.OK, mediumReply.StatusCode);
    }

    [Fact]
    public async Task A_waiting_client_that_disconnects_frees_its_queue_slot_at_once()
    {
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir, o => o with
        {
            Serving = o.Serving with { MaxBatch = 1, MaxQueue = 3 },
        });
        using var http = ServerFixture.Http(server);
        using var leave = new CancellationTokenSource();
        var running = http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("hello", maxTokens: 64000, stream: true, temperature: 0)), leave.Token);
        await WaitUntil(() => server.Service.Batcher.ActiveRows == 1);
        using var waiters = new CancellationTokenSource();
        var waiting = Enumerable.Range(0, 3).Select(i =>
            http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask($"wait {i}", maxTokens: 4)), waiters.Token)).ToList();
        await WaitUntil(() => server.Service.Batcher.Queued == 3);
        using (var full = await http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("one more", maxTokens: 4))))
            Assert.Equal((HttpStatusCode)429, full.StatusCode);

        waiters.Cancel();
        // The batch is still busy with the first request, yet the slots are free again.
        await WaitUntil(() => server.Service.Batcher.Queued == 0);
        Assert.Equal(1, server.Service.Batcher.ActiveRows);
        var again = http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("my turn", maxTokens: 4)));
        await WaitUntil(() => server.Service.Batcher.Queued == 1);
        leave.Cancel();
        using var served = await again;
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        foreach (var w in waiting.Append(running))
            try { using var _ = await w; } catch (OperationCanceledException) { }
    }

    [Fact]
    public async Task A_near_zero_temperature_is_greedy()
    {
        using var http = ServerFixture.Http(servers.Reasoning);
        async Task<string> Answer(double temperature)
        {
            using var response = await http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask(ServerTestModels.Questions[0], 120, temperature: temperature)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }
        static string Message(string body) => JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetRawText();
        string greedy = Message(await Answer(0));
        Assert.Contains(ServerTestModels.Answer.Replace("*", ""), greedy.Replace("*", ""));
        Assert.Equal(greedy, Message(await Answer(1e-300)));
        Assert.Equal(greedy, Message(await Answer(1e-7)));
    }

    [Fact]
    public async Task Non_finite_logits_fail_only_the_request_that_has_them_with_a_clear_error()
    {
        // The embedding of '~' is NaN: a prompt with it gets NaN logits, one without it never meets the NaN.
        string dir = Path.Combine(Directory.CreateTempSubdirectory("r1-nan-").FullName, "nan");
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(ServerTestModels.RandomDir)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        using (var bundle = ModelBundle.Load(dir))
        {
            using (no_grad())
            {
                var embedding = bundle.Model.HfStateDict()["model.embed_tokens.weight"];
                embedding[bundle.Tokenizer.Encode("~").Single()].fill_(float.NaN);
            }
            ModelCheckpoint.Save(bundle.Model, dir);
        }
        await using var server = await ServerFixture.StartAsync(dir);
        using var http = ServerFixture.Http(server);
        // Long enough to still be decoding when the broken request arrives (300 tokens could finish between two polls).
        var healthy = http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("hello", maxTokens: 4000, stream: true, temperature: 0)));
        await WaitUntil(() => server.Service.Batcher.ActiveRows == 1);
        using var broken = await http.PostAsync("v1/chat/completions", ServerFixture.Json(Ask("hello ~", maxTokens: 300)));

        Assert.Equal(HttpStatusCode.InternalServerError, broken.StatusCode);
        string body = await broken.Content.ReadAsStringAsync();
        Assert.Contains("not finite", ServerFixture.Error(body).GetProperty("message").GetString());
        AssertNoInternals(body);
        using var fine = await healthy;
        var events = await ServerFixture.ReadEvents(fine);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("\"error\""));
    }

    [Fact]
    public void A_failure_that_is_not_ours_reaches_the_client_as_a_generic_500()
    {
        var native = new InvalidOperationException(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory\nException raised from /pytorch/c10/core/impl/alloc_cpu.cpp:117\n  at TorchSharp.torch.zeros(...)");
        var error = OpenAiError.ServerFailure(native, NullLogger.Instance);
        Assert.Equal(500, error.Status);
        AssertNoInternals(JsonSerializer.Serialize(error.Body));
        Assert.Contains("not finite", OpenAiError.ServerFailure(new R1Error("the model's logits are not finite"), NullLogger.Instance).Message);
    }

    static void AssertNoInternals(string body)
    {
        Assert.DoesNotContain(" at ", body);
        Assert.DoesNotContain(".cpp", body);
        Assert.DoesNotContain("/pytorch", body);
        Assert.DoesNotContain("Exception", body);
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met in 60 s");
            await Task.Delay(20);
        }
    }
}
