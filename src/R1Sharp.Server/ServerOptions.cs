using System.Net;
using System.Text;
using R1Sharp.Serving;

namespace R1Sharp.Server;

/// <summary>What `r1 serve` listens on and how it guards the endpoint.</summary>
public sealed record ServerOptions(string ModelDir)
{
    /// <summary>Address to bind; 127.0.0.1 keeps the server to this machine, 0.0.0.0 opens it to the network.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (see <see cref="R1Server.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, every /v1 request must send "Authorization: Bearer KEY". Empty is refused.</summary>
    public string? ApiKey { get; init; }
    /// <summary>
    /// Host names the server answers besides its bound address, loopback addresses and "localhost" (and any IP address
    /// when bound to all interfaces); "*" allows every name. Other Host headers get 400: a web page whose own name
    /// resolves to this machine (DNS rebinding) cannot reach the API.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];
    /// <summary>Largest request body accepted; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;
    public ServingOptions Serving { get; init; } = new();
    /// <summary>
    /// Answer POST /update_weights_from_disk, /v1/load_lora_adapter and /v1/unload_lora_adapter (a GRPO learner replacing
    /// the served weights, or its adapter, each step; docs/scale-out.md). Off by default: whoever reaches the endpoints
    /// could make the server serve any model or adapter folder it can read.
    /// </summary>
    public bool AllowWeightUpdates { get; init; }

    /// <summary>The URL Kestrel binds for <see cref="Host"/> and <see cref="Port"/> (<see cref="ListenUrlFor"/>).</summary>
    public string ListenUrl => ListenUrlFor(Host, Port);

    /// <summary>
    /// The URL Kestrel binds, e.g. http://127.0.0.1:8080 or http://[::1]:0, for `r1 serve` and `r1 arena serve`.
    /// <paramref name="host"/> must be an IP address or "localhost": Kestrel would bind any other name to every
    /// interface, opening the server to the network unasked. Throws <see cref="R1Error"/> naming the option for a port
    /// outside 0-65535, a host that is not an address, and port 0 with localhost (which stands for two addresses, so one
    /// free port cannot be picked for both).
    /// </summary>
    public static string ListenUrlFor(string host, int port)
    {
        if (port is < 0 or > 65535) throw new R1Error($"--port must be 0 (a free port) to 65535, got {port}");
        string name = host.Trim();
        bool localhost = name.Equals("localhost", StringComparison.OrdinalIgnoreCase);
        string bare = name.TrimStart('[').TrimEnd(']');
        if (!localhost && !IPAddress.TryParse(bare, out _))
            throw new R1Error($"--host must be an IP address (127.0.0.1, ::1, 0.0.0.0 or :: for every interface) or localhost, got '{host}'");
        if (localhost && port == 0)
            throw new R1Error("--port 0 (a free port) needs an IP address as --host, e.g. 127.0.0.1 or ::1: localhost stands for two addresses");
        if (!localhost && IPAddress.Parse(bare).AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            name = $"[{bare}]";
        return $"http://{name}:{port}";
    }

    /// <summary>Environment variable the API key is read from when no flag gives one.</summary>
    public const string ApiKeyVariable = "R1_API_KEY";

    /// <summary>Longest API key file read: a key is a line, not a file to load into memory.</summary>
    public const int MaxApiKeyFileBytes = 4096;

    /// <summary>
    /// The API key from <c>--api-key</c>, else <c>--api-key-file</c> (its first line), else the
    /// <see cref="ApiKeyVariable"/> environment variable; null when none is given. A key that is given but empty,
    /// or both flags at once, is an error.
    /// </summary>
    public static string? ResolveApiKey(string? key, string? keyFile, string? environmentValue)
    {
        if (key is not null && keyFile is not null) throw new R1Error("give --api-key or --api-key-file, not both");
        (string? value, string source) = key is not null ? (key, "--api-key")
            : keyFile is not null ? (ReadKeyFile(keyFile), $"--api-key-file {keyFile}")
            : (environmentValue, ApiKeyVariable);
        if (value is null) return null;
        value = value.Trim();
        if (value.Length == 0) throw new R1Error($"the API key from {source} is empty; a server with an empty key would refuse every request");
        return value;
    }

    static string ReadKeyFile(string path)
    {
        var buffer = new byte[MaxApiKeyFileBytes + 1];
        int read;
        try
        {
            using var file = File.OpenRead(path);
            read = file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new R1Error($"cannot read the API key file {path}: {e.Message}", e);
        }
        if (read > MaxApiKeyFileBytes) throw new R1Error($"the API key file {path} is longer than {MaxApiKeyFileBytes} bytes; it should hold the key alone");
        string text = Encoding.UTF8.GetString(buffer, 0, read);
        return text.Split('\n', 2)[0];
    }
}
