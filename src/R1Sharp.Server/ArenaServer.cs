using Microsoft.AspNetCore.Builder;
using R1Sharp.Arena;
using R1Sharp.Serving;

namespace R1Sharp.Server;

/// <summary>What `r1 arena serve` listens on and how it guards itself: the same rules as `r1 serve` (<see cref="ServerOptions"/>).</summary>
public sealed record ArenaServerOptions(string DatabasePath)
{
    /// <summary>Address to bind; 127.0.0.1 keeps the arena to this machine.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, the arena's API (/arena/api: battles, votes, the leaderboard's data) needs "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }
    /// <summary>Host names answered besides the bound address, loopback addresses and "localhost" (see <see cref="ServerOptions.AllowedHosts"/>).</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;
    /// <summary>Seed of the pairing (which pair fights, who is model A); null draws one, so a voter cannot foresee the sides.</summary>
    public int? Seed { get; init; }
    /// <summary>How local contestants batch their decoding.</summary>
    public ServingOptions Serving { get; init; } = new();
}

/// <summary>
/// `r1 arena serve`: blind battles between the contestants of an arena config on the page /arena, votes stored in the
/// arena database, and the leaderboard at /arena/leaderboard (<see cref="ArenaEndpoints"/>). Local contestants are
/// loaded once, in this process.
/// </summary>
public sealed class ArenaServer : IAsyncDisposable
{
    readonly WebApplication app;

    ArenaServer(WebApplication app, ArenaContestants contestants, ArenaStore store)
    {
        this.app = app;
        Contestants = contestants;
        Store = store;
    }

    public ArenaContestants Contestants { get; }
    public ArenaStore Store { get; }

    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080/ (the real port when 0 was asked for).</summary>
    public Uri BaseAddress => R1Server.AddressOf(app);

    /// <summary>Opens the database, loads the contestants and starts listening.</summary>
    public static async Task<ArenaServer> StartAsync(ArenaConfig config, ArenaServerOptions options, CancellationToken cancellation = default)
    {
        R1Server.CheckApiKey(options.ApiKey);
        ServerOptions.ListenUrlFor(options.Host, options.Port); // checked before the models load
        var store = ArenaStore.Open(options.DatabasePath);
        var contestants = ArenaContestants.Load(config, options.Serving);
        try
        {
            var app = R1Server.CreateGuardedApp(options.Host, options.Port, options.MaxRequestBodyBytes, options.AllowedHosts, options.ApiKey, ArenaEndpoints.ApiPath);
            var pairs = new PairScheduler(contestants.All.Select(c => c.Name).ToList(), store.PairCounts(Judge.Human), options.Seed ?? Random.Shared.Next());
            new ArenaEndpoints(contestants, store, pairs).Map(app);
            await app.StartAsync(cancellation);
            return new ArenaServer(app, contestants, store);
        }
        catch
        {
            contestants.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the process is asked to stop (Ctrl+C, SIGTERM) or <paramref name="cancellation"/> fires.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => app.WaitForShutdownAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        Contestants.Dispose();
    }
}
