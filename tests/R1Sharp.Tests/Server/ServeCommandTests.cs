using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using R1Sharp.Cli.Commands;

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
        var serving = root.Parse(["serve", "--model", ServerTestModels.RandomDir, "--port", port.ToString(), "--max-batch", "3", "--max-queue", "5", "--api-key", "k"])
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
