using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using R1Sharp.Cli.Commands;
using R1Sharp.Server;

namespace R1Sharp.Tests.Server;

[Collection(ServerCollection.Name)]
public class ServeCommandTests
{
    [Fact]
    public async Task R1_serve_listens_where_told_with_its_limits_and_stops_when_cancelled()
    {
        int port = FreePort();
        var root = new RootCommand { ServeCommand.Create() };
        using var stop = new CancellationTokenSource();
        var serving = root.Parse(["serve", "--model", ServerTestModels.RandomDir, "--port", port.ToString(), "--max-batch", "3", "--max-queue", "5", "--api-key", "k",
                "--allowed-hosts", "a.example,b.example", "c.example", "--max-request-bytes", "1000", "--parse-special-in-content"])
            .InvokeAsync(cancellationToken: stop.Token);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        JsonDocument? health = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); health is null; await Task.Delay(50))
        {
            Assert.False(serving.IsCompleted, "r1 serve ended early");
            Assert.True(DateTime.UtcNow < deadline, "r1 serve did not answer /health in 30 s");
            try { health = JsonDocument.Parse(await http.GetStringAsync("health")); }
            catch (HttpRequestException) { }
        }
        Assert.Equal(3, health.RootElement.GetProperty("max_batch").GetInt32());
        Assert.Equal(5, health.RootElement.GetProperty("max_queue").GetInt32());
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("v1/models")).StatusCode);
        foreach (var (host, status) in new[] { ("b.example", HttpStatusCode.OK), ("c.example", HttpStatusCode.OK), ("d.example", HttpStatusCode.BadRequest) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "health");
            request.Headers.Host = host;
            Assert.Equal(status, (await http.SendAsync(request)).StatusCode);
        }
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "k");
        async Task<HttpResponseMessage> Ask(string content) => await http.PostAsync("v1/chat/completions", new StringContent(
            JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } }, max_tokens = 1 }), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Ask(new string('x', 2000))).StatusCode);
        // Special-token text is parsed: "<think>" is one token, not seven bytes.
        async Task<int> PromptTokens(string content)
        {
            using var response = await Ask(content);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        }
        Assert.Equal(await PromptTokens("hi") + 1, await PromptTokens("hi<think>"));

        stop.Cancel();
        Assert.Equal(0, await serving.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task The_api_key_comes_from_a_file_or_the_environment_and_an_empty_one_is_refused_with_exit_2()
    {
        string dir = Directory.CreateTempSubdirectory("r1-key-").FullName;
        try
        {
            string keyFile = Path.Combine(dir, "key"), empty = Path.Combine(dir, "empty"), huge = Path.Combine(dir, "huge");
            File.WriteAllText(keyFile, "from-file\n");
            File.WriteAllText(empty, "\n  \n");
            File.WriteAllText(huge, new string('k', 5000));
            string model = ServerTestModels.RandomDir;
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key", ""]));
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key", "   "]));
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key-file", empty]));
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key-file", huge]));
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key-file", Path.Combine(dir, "missing")]));
            Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["serve", "--model", model, "--api-key", "a", "--api-key-file", keyFile]));

            Assert.Equal("from-file", ServerOptions.ResolveApiKey(null, keyFile, "from-env"));
            Assert.Equal("from-flag", ServerOptions.ResolveApiKey("from-flag", null, "from-env"));
            Assert.Equal("from-env", ServerOptions.ResolveApiKey(null, null, " from-env\n"));
            Assert.Null(ServerOptions.ResolveApiKey(null, null, null));
            Assert.Contains(ServerOptions.ApiKeyVariable, Assert.Throws<R1Error>(() => ServerOptions.ResolveApiKey(null, null, "")).Message);

            // Served for real: the key from the file, then from R1_API_KEY, guards /v1.
            await AssertServedWithKey("from-file", ["--api-key-file", keyFile]);
            string? saved = Environment.GetEnvironmentVariable(ServerOptions.ApiKeyVariable);
            Environment.SetEnvironmentVariable(ServerOptions.ApiKeyVariable, "from-env");
            try
            {
                await AssertServedWithKey("from-env", []);
            }
            finally
            {
                Environment.SetEnvironmentVariable(ServerOptions.ApiKeyVariable, saved);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    static async Task AssertServedWithKey(string key, string[] keyArgs)
    {
        int port = FreePort();
        var root = new RootCommand { ServeCommand.Create() };
        using var stop = new CancellationTokenSource();
        var serving = root.Parse(["serve", "--model", ServerTestModels.RandomDir, "--port", port.ToString(), .. keyArgs]).InvokeAsync(cancellationToken: stop.Token);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ; await Task.Delay(50))
        {
            Assert.False(serving.IsCompleted, "r1 serve ended early");
            Assert.True(DateTime.UtcNow < deadline, "r1 serve did not answer /health in 30 s");
            try
            {
                if ((await http.GetAsync("health")).IsSuccessStatusCode) break;
            }
            catch (HttpRequestException) { }
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("v1/models")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("v1/models")).StatusCode);
        stop.Cancel();
        Assert.Equal(0, await serving.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
