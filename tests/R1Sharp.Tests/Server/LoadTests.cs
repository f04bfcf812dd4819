using System.Net;
using System.Text.Json;

namespace R1Sharp.Tests.Server;

/// <summary>Many clients at once over loopback: bounded in count (32) and time (a minute).</summary>
[Collection(ServerCollection.Name)]
public class LoadTests(ServerFixture servers)
{
    [Fact]
    public async Task Thirty_two_concurrent_streaming_clients_all_finish_without_errors_sharing_decode_steps()
    {
        var server = servers.Random;
        var before = server.Service.Batcher.Stats;
        using var http = ServerFixture.Http(server);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var clients = Enumerable.Range(0, 32).Select(async i =>
        {
            string body = $$$"""{"messages":[{"role":"user","content":"client {{{i}}}"}],"max_tokens":{{{16 + i % 8}}},"seed":{{{i}}},"stream":true,"stream_options":{"include_usage":true}}""";
            using var response = await http.PostAsync("v1/chat/completions", ServerFixture.Json(body), deadline.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var events = await ServerFixture.ReadEvents(response);
            Assert.Equal("[DONE]", events[^1]);
            Assert.DoesNotContain(events, e => e.Contains("\"error\""));
            using var usage = JsonDocument.Parse(events[^2]);
            int completionTokens = usage.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
            Assert.InRange(completionTokens, 1, 16 + i % 8);
            return completionTokens;
        }).ToList();
        int[] tokens = await Task.WhenAll(clients);

        var after = server.Service.Batcher.Stats;
        Assert.Equal(tokens.Sum(), after.Tokens - before.Tokens);
        // Sequential decoding would take one step per token; shared steps take far fewer.
        Assert.True(after.Steps - before.Steps < tokens.Sum() / 2, $"{after.Steps - before.Steps} steps for {tokens.Sum()} tokens");
        Assert.True(after.LargestBatch > 1);
    }
}
