using System.Text.Json;
using R1Sharp.Checkpoints;
using R1Sharp.Server;
using R1Sharp.Serving;
using R1Sharp.Tests.Model;

namespace R1Sharp.Tests.Server;

/// <summary>`r1 serve --adapter NAME=DIR`: LoRA adapters served beside the base under their names, as vLLM does.</summary>
[Collection(ServerCollection.Name)]
public class ServeAdapterTests : IDisposable
{
    readonly TempDir dir = new("r1-serve-lora-");

    public void Dispose() => dir.Dispose();

    /// <summary>An adapter with random B over the random test model, and that model with it merged in.</summary>
    (string Adapter, string Merged) MakeAdapter()
    {
        string adapterDir = dir.File("tuned"), merged = dir.File("merged");
        using (var bundle = ModelBundle.Load(ServerTestModels.RandomDir))
        using (var adapter = LoraTests.TrainedLookingAdapter(bundle.Model, seed: 5))
            PeftAdapter.Save(adapter, adapterDir);
        PeftAdapter.Merge(ServerTestModels.RandomDir, adapterDir, merged);
        return (adapterDir, merged);
    }

    static async Task<(string Model, string Text)> Complete(HttpClient http, string? model, string question)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["model"] = model, ["messages"] = new[] { new { role = "user", content = question } }, ["temperature"] = 0, ["max_tokens"] = 12,
        });
        var response = await http.PostAsync("/v1/chat/completions", ServerFixture.Json(body));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var doc = JsonDocument.Parse(text);
        var message = doc.RootElement.GetProperty("choices")[0].GetProperty("message");
        string reasoning = message.GetProperty("reasoning_content").GetString() ?? "", content = message.GetProperty("content").GetString() ?? "";
        return (doc.RootElement.GetProperty("model").GetString()!, reasoning + "|" + content);
    }

    [Fact]
    public async Task Each_adapter_is_served_under_its_name_beside_the_base()
    {
        var (adapterDir, merged) = MakeAdapter();
        string baseName = Path.GetFileName(ServerTestModels.RandomDir);
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir,
            o => o with { Serving = o.Serving with { Adapters = new Dictionary<string, string> { ["tuned"] = adapterDir } } });
        await using var mergedServer = await ServerFixture.StartAsync(merged);
        using var http = ServerFixture.Http(server);
        using var mergedHttp = ServerFixture.Http(mergedServer);

        // /v1/models: the base, then the adapter with the base as parent.
        using (var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models")))
        {
            var data = models.RootElement.GetProperty("data").EnumerateArray().ToList();
            Assert.Equal([baseName, "tuned"], data.Select(m => m.GetProperty("id").GetString()));
            Assert.Equal(baseName, data[1].GetProperty("parent").GetString());
        }
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/v1/models/tuned")).StatusCode);

        string question = ServerTestModels.Questions[0];
        var plain = await Complete(http, null, question);
        var named = await Complete(http, baseName, question);
        var tuned = await Complete(http, "tuned", question);
        Assert.Equal((baseName, plain.Text), named);
        Assert.Equal("tuned", tuned.Model);
        Assert.NotEqual(plain.Text, tuned.Text);
        // The adapter served is the adapter merged into the base.
        Assert.Equal(tuned.Text, (await Complete(mergedHttp, null, question)).Text);

        // Requests for the base and the adapter at once: each gets what it gets alone (one adapter per batch).
        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Complete(http, i % 2 == 0 ? "tuned" : baseName, question)));
        Assert.All(together.Where((_, i) => i % 2 == 0), r => Assert.Equal(tuned, r));
        Assert.All(together.Where((_, i) => i % 2 == 1), r => Assert.Equal(named, r));

        // Another name is a 404 that lists what is served.
        var unknown = await http.PostAsync("/v1/chat/completions", ServerFixture.Json("""{"model": "other", "messages": [{"role": "user", "content": "hi"}]}"""));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("'tuned'", ServerFixture.Error(await unknown.Content.ReadAsStringAsync()).GetProperty("message").GetString());
    }

    [Fact]
    public void Adapter_flags_name_each_adapter_once_and_a_bad_one_stops_the_server_before_it_listens()
    {
        var named = R1Sharp.Cli.Commands.ServeCommand.NamedAdapters(["math=/a/b", "/x/code-lora"]);
        Assert.Equal(new Dictionary<string, string> { ["math"] = "/a/b", ["code-lora"] = "/x/code-lora" }, named);
        Assert.Throws<R1Error>(() => R1Sharp.Cli.Commands.ServeCommand.NamedAdapters(["a=/1", "a=/2"]));
        Assert.Throws<R1Error>(() => R1Sharp.Cli.Commands.ServeCommand.NamedAdapters(["a="]));
        var error = Assert.Throws<R1Error>(() => ChatService.Load(ServerTestModels.RandomDir,
            new ServingOptions { Adapters = new Dictionary<string, string> { ["x"] = dir.File("missing") } }));
        Assert.Contains("adapter directory not found", error.Message);
    }
}
