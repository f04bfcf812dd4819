using System.CommandLine;
using System.Globalization;
using R1Sharp.Remote;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>--endpoint URL --endpoint-model NAME [--api-key-env VAR] [--concurrency N] [--max-attempts N] [--request-timeout S]</c>:
/// `r1 eval` and `r1 sample` against any OpenAI-compatible server instead of a local --model.
/// </summary>
sealed record EndpointFlags(Option<string?> Url, Option<string?> Model, Option<string?> ApiKeyEnv, Option<int> Concurrency, Option<int> MaxAttempts,
    Option<double> RequestTimeout)
{
    public static EndpointFlags AddTo(Command command)
    {
        var defaults = new EndpointOptions { Url = "", Model = "" };
        var flags = new EndpointFlags(
            OptionFactory.Optional<string>("--endpoint", "OpenAI-compatible API base URL instead of --model, e.g. http://127.0.0.1:8080/v1 (POST {URL}/chat/completions)"),
            OptionFactory.Optional<string>("--endpoint-model", "The model name the endpoint serves (the request's \"model\")"),
            OptionFactory.Optional<string>("--api-key-env", "Environment variable holding the endpoint's API key (sent as a Bearer token; never shown or written)"),
            OptionFactory.WithDefault("--concurrency", defaults.Concurrency, "Most requests in flight at once").AtLeast(1),
            OptionFactory.WithDefault("--max-attempts", defaults.MaxAttempts, "Tries per request (429, 5xx, timeouts and dropped connections are retried with backoff)").AtLeast(1),
            OptionFactory.WithDefault("--request-timeout", defaults.RequestTimeoutSeconds, "Seconds one try may take").Must(s => s > 0, "must be positive"));
        foreach (var option in new Option[] { flags.Url, flags.Model, flags.ApiKeyEnv, flags.Concurrency, flags.MaxAttempts, flags.RequestTimeout })
            command.Options.Add(option);
        return flags;
    }

    /// <summary>The endpoint the command line names, or null when it names a local model (exactly one of the two).</summary>
    public OpenAiEndpoint? Open(ParseResult parse, string? modelDir)
    {
        string? url = parse.GetValue(Url);
        if ((url is null) == (modelDir is null)) throw new R1Error("give exactly one of --model and --endpoint");
        if (url is null)
        {
            foreach (var flag in new Option[] { Model, ApiKeyEnv, Concurrency, MaxAttempts, RequestTimeout })
                if (parse.GetResult(flag) is { Implicit: false }) throw new R1Error($"{flag.Name} needs --endpoint");
            return null;
        }
        string model = parse.GetValue(Model) ?? throw new R1Error("--endpoint needs --endpoint-model NAME (the model name the server serves)");
        return new OpenAiEndpoint(new EndpointOptions
        {
            Url = url, Model = model, Concurrency = parse.GetValue(Concurrency), MaxAttempts = parse.GetValue(MaxAttempts),
            RequestTimeoutSeconds = parse.GetValue(RequestTimeout),
        }, OpenAiEndpoint.KeyFromEnvironment(parse.GetValue(ApiKeyEnv)));
    }

    /// <summary>The endpoint's rows of a summary table: requests, retries, tokens, wall-clock.</summary>
    public static void AddRows(Table table, EndpointUsage usage)
    {
        string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
        table.AddRow("endpoint", Markup.Escape($"{usage.Model} at {usage.Url}"));
        table.AddRow("requests (retries)", $"{Count(usage.Requests)} ({Count(usage.Retries)})");
        table.AddRow("tokens: prompt + completion", $"{Count(usage.PromptTokens)} + {Count(usage.CompletionTokens)} = {Count(usage.TotalTokens)}");
        table.AddRow("endpoint wall-clock seconds", usage.Seconds.ToString("F1", CultureInfo.InvariantCulture));
    }
}
