using System.CommandLine;
using R1Sharp.Server;
using R1Sharp.Serving;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 serve</c>: the OpenAI-compatible API and the web chat over one model.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServingOptions();
        var model = OptionFactory.RequiredPath("--model", "Model directory (config.json, weights, tokenizer.json, tokenizer_config.json), or a .gguf file");
        var host = Host("the server");
        var port = Port();
        var guards = Guards.Create("/v1 requests");
        var maxRequestBytes = OptionFactory.WithDefault("--max-request-bytes", new ServerOptions("").MaxRequestBodyBytes, "Largest request body accepted; larger ones get 413");
        var parseSpecial = OptionFactory.WithDefault("--parse-special-in-content", false,
            "Let special-token text in messages (e.g. '<｜Assistant｜>') become control tokens, as transformers does; off, contents are plain text");
        var maxBatch = OptionFactory.WithDefault("--max-batch", defaults.MaxBatch, "Most sequences decoded together in one step");
        var maxQueue = OptionFactory.WithDefault("--max-queue", defaults.MaxQueue, "Most requests waiting for room in the batch; more get HTTP 429");
        var maxTokens = OptionFactory.WithDefault("--max-tokens", defaults.DefaultMaxTokens, "Completion length when a request sets no max_tokens");
        var maxCache = OptionFactory.Optional<int?>("--max-cache-mb", "Most MiB the batch's KV cache may take (default: half this machine's memory)");
        var allowWeightUpdates = OptionFactory.WithDefault("--allow-weight-updates", false,
            "Answer POST /update_weights_from_disk and /v1/load_lora_adapter, /v1/unload_lora_adapter, so a GRPO learner can replace the served weights or adapter each step (docs/scale-out.md)");
        var quantize = OptionFactory.Quantize();
        var precision = OptionFactory.GenerationPrecision();
        var adapters = new Option<string[]>("--adapter")
        {
            Description = "Serve a LoRA adapter (PEFT folder) beside the base as NAME=DIR, under NAME in the request's \"model\" field (DIR alone: under its folder's name); repeatable",
        };
        var command = new Command("serve", "Serve a model: OpenAI-compatible /v1/chat/completions with reasoning_content, and a web chat at /");
        foreach (var option in new Option[] { model, quantize, precision, host, port, guards.ApiKey, guards.ApiKeyFile, guards.AllowedHosts, maxRequestBytes, parseSpecial, maxBatch, maxQueue, maxTokens, maxCache, adapters, allowWeightUpdates })
            command.Options.Add(option);
        command.SetAction(async (parse, cancellation) =>
        {
            if (parse.GetValue(maxRequestBytes) < 1) throw new R1Error($"--max-request-bytes must be at least 1, got {parse.GetValue(maxRequestBytes)}");
            var options = new ServerOptions(parse.GetValue(model)!)
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port),
                ApiKey = guards.Key(parse),
                AllowedHosts = guards.Hosts(parse),
                MaxRequestBodyBytes = parse.GetValue(maxRequestBytes),
                AllowWeightUpdates = parse.GetValue(allowWeightUpdates),
                Serving = new ServingOptions
                {
                    MaxBatch = parse.GetValue(maxBatch), MaxQueue = parse.GetValue(maxQueue), DefaultMaxTokens = parse.GetValue(maxTokens),
                    ParseSpecialInContent = parse.GetValue(parseSpecial), Quantize = OptionFactory.QuantizeType(parse, quantize),
                    Precision = OptionFactory.PrecisionOf(parse, precision),
                    MaxCacheBytes = parse.GetValue(maxCache) is int mb ? mb * (1L << 20) : null,
                    Adapters = NamedAdapters(parse.GetValue(adapters) ?? []),
                },
            };
            await using var server = await Listen(options.Host, options.Port, () => R1Server.StartAsync(options, cancellation));
            var cli = CliOutput.Of(parse);
            if (server.Service.Bundle.WeightPrecision != Training.PrecisionChoice.Fp32)
                cli.Note($"weights: {server.Service.Bundle.WeightPrecision.Reason}");
            cli.Line($"serving {string.Join(", ", server.Service.ModelIds)} at {server.BaseAddress} (web chat), API at {server.BaseAddress}v1 — Ctrl+C stops");
            await server.WaitForShutdownAsync(cancellation);
            return 0;
        });
        return command;
    }

    /// <summary>--adapter NAME=DIR (vLLM's --lora-modules form) or DIR (named after its folder), each name once.</summary>
    public static Dictionary<string, string> NamedAdapters(IEnumerable<string> values)
    {
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            int eq = value.IndexOf('=');
            var (name, dir) = eq > 0 && !Directory.Exists(value) ? (value[..eq], value[(eq + 1)..])
                : (Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(value))), value);
            if (dir.Length == 0) throw new R1Error($"--adapter {value}: no folder after the name (NAME=DIR)");
            if (!named.TryAdd(name, dir)) throw new R1Error($"--adapter {value}: the name '{name}' is given twice");
        }
        return named;
    }

    /// <summary>--host of a server (`r1 serve`, `r1 arena serve`).</summary>
    internal static Option<string> Host(string what) =>
        OptionFactory.WithDefault("--host", "127.0.0.1", $"IP address to listen on, or localhost (0.0.0.0 or :: opens {what} to the network)");

    /// <summary>--port of a server.</summary>
    internal static Option<int> Port() =>
        OptionFactory.WithDefault("--port", 8080, "Port to listen on, 0-65535 (0 picks a free one; needs an IP address as --host)");

    /// <summary>Starts a server once --host and --port are checked (before any model loads); a port already in use is
    /// the user's error.</summary>
    internal static async Task<T> Listen<T>(string host, int port, Func<Task<T>> start)
    {
        ServerOptions.ListenUrlFor(host, port);
        try
        {
            return await start();
        }
        catch (IOException e)
        {
            throw new R1Error($"cannot listen on {host}:{port}: {e.Message}", e);
        }
    }

    /// <summary>The options that guard a server (`r1 serve`, `r1 arena serve`): the API key, from a flag, a file or
    /// $R1_API_KEY, and the host names answered.</summary>
    internal sealed record Guards(Option<string?> ApiKey, Option<string?> ApiKeyFile, Option<string[]> AllowedHosts)
    {
        /// <param name="guarded">What the key guards, for the help text.</param>
        public static Guards Create(string guarded) => new(
            OptionFactory.Optional<string>("--api-key",
                $"Require 'Authorization: Bearer KEY' on {guarded} (visible to other local users in the process list: prefer --api-key-file or ${ServerOptions.ApiKeyVariable})"),
            OptionFactory.OptionalPath("--api-key-file", "Read the API key from the first line of this file"),
            new Option<string[]>("--allowed-hosts")
            {
                Description = "Host names to answer besides the bound address, localhost and IP addresses, e.g. a DNS name clients use (* for any); others get 400",
                AllowMultipleArgumentsPerToken = true,
            });

        public string? Key(ParseResult parse) =>
            ServerOptions.ResolveApiKey(parse.GetValue(ApiKey), parse.GetValue(ApiKeyFile), Environment.GetEnvironmentVariable(ServerOptions.ApiKeyVariable));

        /// <summary>--allowed-hosts, space- or comma-separated.</summary>
        public List<string> Hosts(ParseResult parse) =>
            (parse.GetValue(AllowedHosts) ?? []).SelectMany(h => h.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
    }
}
