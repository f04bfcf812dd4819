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

    // --- vLLM's runtime LoRA API: POST /v1/load_lora_adapter and /v1/unload_lora_adapter (--allow-weight-updates) ---

    static Task<R1Server> Updatable() => ServerFixture.StartAsync(ServerTestModels.RandomDir, o => o with { AllowWeightUpdates = true });

    static Task<HttpResponseMessage> Post(HttpClient http, string path, object body) =>
        http.PostAsync(path, ServerFixture.Json(JsonSerializer.Serialize(body)));

    static async Task<(System.Net.HttpStatusCode Status, string Body)> Call(HttpClient http, string path, object body)
    {
        using var response = await Post(http, path, body);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    static async Task<List<string>> Listed(HttpClient http)
    {
        using var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models"));
        return models.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToList();
    }

    [Fact]
    public async Task Load_and_unload_lora_adapter_serve_an_adapter_from_then_on_with_vllms_answers()
    {
        var (adapterDir, merged) = MakeAdapter();
        string baseName = Path.GetFileName(ServerTestModels.RandomDir);
        await using var server = await Updatable();
        await using var mergedServer = await ServerFixture.StartAsync(merged);
        using var http = ServerFixture.Http(server);
        string question = ServerTestModels.Questions[0];
        var plain = await Complete(http, null, question);

        var loaded = await Call(http, "/v1/load_lora_adapter", new { lora_name = "tuned", lora_path = adapterDir });
        Assert.Equal((System.Net.HttpStatusCode.OK, "Success: LoRA adapter 'tuned' added successfully."), loaded);
        Assert.Equal([baseName, "tuned"], await Listed(http));
        var tuned = await Complete(http, "tuned", question);
        Assert.Equal(("tuned", (await Complete(ServerFixture.Http(mergedServer), null, question)).Text), tuned);
        Assert.NotEqual(plain.Text, tuned.Text);
        // The token-id completions a GRPO learner sends name the adapter too.
        var tokens = JsonDocument.Parse(await (await Post(http, "/v1/completions",
            new { model = "tuned", prompt = new[] { 112, 49 }, max_tokens = 3, temperature = 0 })).Content.ReadAsStringAsync());
        Assert.Equal("tuned", tokens.RootElement.GetProperty("model").GetString());

        // vLLM's errors: a name loaded already, missing fields, the base's name, load_inplace (not built here).
        foreach (var (body, param) in new (object Body, string Param)[]
                 {
                     (new { lora_name = "tuned", lora_path = adapterDir }, "lora_name"),
                     (new { lora_name = baseName, lora_path = adapterDir }, "lora_name"),
                     (new { lora_name = " padded", lora_path = adapterDir }, "lora_name"),
                     (new { lora_name = "again", lora_path = adapterDir, load_inplace = true }, "load_inplace"),
                 })
        {
            var refused = await Call(http, "/v1/load_lora_adapter", body);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.Status);
            Assert.Equal(param, ServerFixture.Error(refused.Body).GetProperty("param").GetString());
        }
        Assert.Contains("has already been loaded",
            ServerFixture.Error((await Call(http, "/v1/load_lora_adapter", new { lora_name = "tuned", lora_path = adapterDir })).Body).GetProperty("message").GetString());
        var missing = await Call(http, "/v1/load_lora_adapter", new { lora_name = "x" });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, missing.Status);
        Assert.Contains("Both 'lora_name' and 'lora_path' must be provided", ServerFixture.Error(missing.Body).GetProperty("message").GetString());

        var unloaded = await Call(http, "/v1/unload_lora_adapter", new { lora_name = "tuned" });
        Assert.Equal((System.Net.HttpStatusCode.OK, "Success: LoRA adapter 'tuned' removed successfully."), unloaded);
        Assert.Equal([baseName], await Listed(http));
        var gone = await Post(http, "/v1/chat/completions", new { model = "tuned", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, gone.StatusCode);
        var again = await Call(http, "/v1/unload_lora_adapter", new { lora_name = "tuned" });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, again.Status);
        Assert.Contains("cannot be found", ServerFixture.Error(again.Body).GetProperty("message").GetString());
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await Call(http, "/v1/unload_lora_adapter", new { })).Status);
        // Unloaded, the name is free again; the base serves as it did.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Call(http, "/v1/load_lora_adapter", new { lora_name = "tuned", lora_path = adapterDir })).Status);
        Assert.Equal(tuned, await Complete(http, "tuned", question));
        Assert.Equal(plain, await Complete(http, null, question));
    }

    [Fact]
    public async Task Adapter_updates_are_forbidden_without_allow_weight_updates()
    {
        var (adapterDir, _) = MakeAdapter();
        await using var server = await ServerFixture.StartAsync(ServerTestModels.RandomDir);
        using var http = ServerFixture.Http(server);
        foreach (var (path, body) in new (string, object)[]
                 {
                     ("/v1/load_lora_adapter", new { lora_name = "tuned", lora_path = adapterDir }), ("/v1/unload_lora_adapter", new { lora_name = "tuned" }),
                 })
        {
            var refused = await Call(http, path, body);
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.Status);
            Assert.Contains("--allow-weight-updates", ServerFixture.Error(refused.Body).GetProperty("message").GetString());
        }
        Assert.Equal([Path.GetFileName(ServerTestModels.RandomDir)], await Listed(http));
    }

    [Fact]
    public async Task A_hostile_adapter_folder_is_a_400_that_names_the_problem_and_loads_nothing()
    {
        var (adapterDir, merged) = MakeAdapter();
        string Variant(string name, Action<string> spoil)
        {
            string copy = dir.File(name);
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(adapterDir)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            spoil(copy);
            return copy;
        }
        string config(string folder) => Path.Combine(folder, PeftAdapter.ConfigFile);
        var cases = new (string Path, string Problem)[]
        {
            (dir.File("nowhere"), "adapter directory not found"),
            (merged, "this is a model, not a LoRA adapter"),
            (Variant("bad-json", d => File.WriteAllText(config(d), "{\"r\": 4,")), "not valid JSON"),
            (Variant("wrong-rank", d => File.WriteAllText(config(d), File.ReadAllText(config(d)).Replace("\"r\": 4", "\"r\": 8"))), "expected [8, "),
            (Variant("dora", d => File.WriteAllText(config(d), File.ReadAllText(config(d)).Replace("\"use_dora\": false", "\"use_dora\": true"))), "use_dora"),
            (Variant("truncated", d => File.WriteAllBytes(Path.Combine(d, PeftAdapter.WeightsFile), File.ReadAllBytes(Path.Combine(d, PeftAdapter.WeightsFile))[..20])), PeftAdapter.WeightsFile),
        };
        await using var server = await Updatable();
        using var http = ServerFixture.Http(server);
        foreach (var (path, problem) in cases)
        {
            var refused = await Call(http, "/v1/load_lora_adapter", new { lora_name = "hostile", lora_path = path });
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.Status);
            var error = ServerFixture.Error(refused.Body);
            Assert.Equal("lora_path", error.GetProperty("param").GetString());
            Assert.Contains(problem, error.GetProperty("message").GetString());
        }
        Assert.Equal([Path.GetFileName(ServerTestModels.RandomDir)], await Listed(http));
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Call(http, "/v1/load_lora_adapter", new { lora_name = "hostile", lora_path = adapterDir })).Status);
    }

    [Fact]
    public async Task Unload_waits_for_the_adapters_running_rows_and_refuses_new_requests_meanwhile()
    {
        // A fresh adapter (B = 0) leaves the random model as it is: greedy from "hello" it never says EOS.
        string adapterDir = dir.File("fresh");
        using (var bundle = ModelBundle.Load(ServerTestModels.RandomDir))
        using (var fresh = R1Sharp.Model.LoraAdapter.Create(bundle.Model, new R1Sharp.Model.LoraSettings(Rank: 4, Alpha: 8), "base", seed: 3))
            PeftAdapter.Save(fresh, adapterDir);
        await using var server = await Updatable();
        using var http = ServerFixture.Http(server);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await Call(http, "/v1/load_lora_adapter", new { lora_name = "tuned", lora_path = adapterDir })).Status);

        // A stream that would run for thousands of tokens holds the adapter's rows.
        using var cancel = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = ServerFixture.Json(JsonSerializer.Serialize(new
            {
                model = "tuned", stream = true, max_tokens = 15000, temperature = 0, messages = new[] { new { role = "user", content = "hello" } },
            })),
        };
        var stream = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, stream.StatusCode);
        var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(cancel.Token));
        while (server.Service.Batcher.ActiveRows == 0) await Task.Delay(10); // its row is decoding (not only queued)

        var unload = Call(http, "/v1/unload_lora_adapter", new { lora_name = "tuned" });
        // Once the unload has begun the adapter is no longer listed, and a new request for it is refused.
        while (!unload.IsCompleted && (await Listed(http)).Contains("tuned")) await Task.Delay(20);
        var refused = await Call(http, "/v1/chat/completions", new { model = "tuned", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, refused.Status);
        Assert.Contains("'tuned'", ServerFixture.Error(refused.Body).GetProperty("message").GetString());
        Assert.Equal(1, server.Service.Batcher.ActiveRows); // the stream still decodes with the adapter ...
        Assert.False(unload.IsCompleted); // ... so the adapter is not freed under it

        cancel.Cancel(); // the client leaves: its rows end, and the unload finishes
        reader.Dispose();
        stream.Dispose();
        Assert.Equal((System.Net.HttpStatusCode.OK, "Success: LoRA adapter 'tuned' removed successfully."), await unload);
        Assert.Equal(0, server.Service.Batcher.ActiveRows);
        Assert.Equal([Path.GetFileName(ServerTestModels.RandomDir)], await Listed(http));
    }
}
