using R1Sharp.Serving;

namespace R1Sharp.Server;

/// <summary>What `r1 serve` listens on and how it guards the endpoint.</summary>
public sealed record ServerOptions(string ModelDir)
{
    /// <summary>Address to bind; 127.0.0.1 keeps the server to this machine, 0.0.0.0 opens it to the network.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (see <see cref="R1Server.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, every /v1 request must send "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;
    public ServingOptions Serving { get; init; } = new();
}
