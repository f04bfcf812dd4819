using System.Runtime.CompilerServices;
using System.Threading.Channels;
using R1Sharp.Generation;
using R1Sharp.Remote;
using R1Sharp.Serving;
using R1Sharp.Tokenizers;

namespace R1Sharp.Arena;

/// <summary>A contestant: something that answers a one-turn prompt, streaming its thinking apart from its answer.</summary>
public abstract class Contestant(string name, ArenaSampling sampling)
{
    public string Name => name;
    public ArenaSampling Sampling => sampling;

    /// <summary>The reply to <paramref name="prompt"/> (a user's question, or a task's messages) as it is generated; the
    /// last update carries the finish reason. A failure is an <see cref="R1Error"/> naming the contestant. Same seed, same
    /// reply (for local models).</summary>
    public abstract IAsyncEnumerable<ChatUpdate> Reply(IReadOnlyList<ChatMessage> prompt, int? seed, CancellationToken cancellation);

    /// <summary>The whole reply.</summary>
    public async Task<ContestantReply> ReplyAsync(IReadOnlyList<ChatMessage> prompt, int? seed, CancellationToken cancellation)
    {
        var reply = new ContestantReply.Builder();
        await foreach (var update in Reply(prompt, seed, cancellation)) reply.Add(update);
        return reply.Build();
    }

    /// <summary>
    /// Both contestants' replies at once, their updates merged as they come, tagged 0 (model A) or 1 (model B). If one
    /// fails, the other is stopped and the failure ends the stream.
    /// </summary>
    public static async IAsyncEnumerable<(int Side, ChatUpdate Update)> Both(Contestant a, Contestant b, IReadOnlyList<ChatMessage> prompt, int? seedA, int? seedB,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var merged = Channel.CreateUnbounded<(int, ChatUpdate)>();
        int running = 2;
        async Task Pump(int side, Contestant contestant, int? seed)
        {
            try
            {
                await foreach (var update in contestant.Reply(prompt, seed, stop.Token)) merged.Writer.TryWrite((side, update));
                if (Interlocked.Decrement(ref running) == 0) merged.Writer.TryComplete();
            }
            catch (Exception e)
            {
                merged.Writer.TryComplete(e);
                stop.Cancel();
            }
        }
        var pumps = Task.WhenAll(Pump(0, a, seedA), Pump(1, b, seedB));
        try
        {
            await foreach (var item in merged.Reader.ReadAllAsync(cancellation)) yield return item;
        }
        finally
        {
            stop.Cancel();
            await pumps;
        }
    }
}

/// <summary>A model in this process, through the <see cref="ChatService"/> it shares with every contestant naming the same model.</summary>
public sealed class LocalContestant(string name, ArenaSampling sampling, ChatService service) : Contestant(name, sampling)
{
    public ChatService Service => service;

    public override async IAsyncEnumerable<ChatUpdate> Reply(IReadOnlyList<ChatMessage> prompt, int? seed, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var job = Start(prompt, seed, cancellation);
        var updates = job.Updates;
        while (true)
        {
            try
            {
                if (!await updates.WaitToReadAsync(cancellation)) yield break;
            }
            catch (Exception e) when (e is not (OperationCanceledException or R1Error))
            {
                throw new R1Error($"contestant '{Name}' failed: {e.Message}", e);
            }
            while (updates.TryRead(out var update)) yield return update;
        }
    }

    ChatCompletionJob Start(IReadOnlyList<ChatMessage> prompt, int? seed, CancellationToken cancellation)
    {
        var request = new ChatRequest(prompt)
        {
            Temperature = Sampling.Temperature, TopP = Sampling.TopP, MaxTokens = Sampling.MaxTokens, Seed = seed,
        };
        try
        {
            try
            {
                return service.Start(request, cancellation);
            }
            catch (ContextLengthError)
            {
                // The reply may not have max_tokens of room left: let it run to the end of the context instead (the
                // service caps an unset max_tokens there; its default is the largest any contestant asks for). A prompt
                // that does not fit at all still fails.
                return service.Start(request with { MaxTokens = null }, cancellation);
            }
        }
        catch (Exception e) when (e is R1Error or QueueFullError)
        {
            throw new R1Error($"contestant '{Name}': {e.Message}", e);
        }
    }
}

/// <summary>
/// The contestants of an arena config, ready to answer. Each local model is loaded once (one <see cref="ChatService"/>,
/// so contestants naming the same model — with different sampling, say — share its weights and decoding batch);
/// endpoints share one HTTP client. Disposing frees the models.
/// </summary>
public sealed class ArenaContestants : IDisposable
{
    readonly List<ChatService> services = [];
    readonly List<OpenAiEndpoint> endpoints = [];

    public IReadOnlyList<Contestant> All { get; private set; } = [];

    public Contestant this[string name] => All.First(c => c.Name == name);

    /// <summary>The first local contestant's model, for what depends on a model (the quickstart task's digit counts); null when all are endpoints.</summary>
    public string? FirstLocalModel { get; private set; }

    /// <param name="serving">How local models batch; its default max tokens becomes the largest any contestant asks for.</param>
    public static ArenaContestants Load(ArenaConfig config, ServingOptions? serving = null)
    {
        var contestants = new ArenaContestants();
        try
        {
            int maxTokens = config.Contestants.Max(c => c.Sampling.MaxTokens);
            serving = (serving ?? new ServingOptions()) with { DefaultMaxTokens = maxTokens };
            var byModel = new Dictionary<string, ChatService>(StringComparer.Ordinal);
            var all = new List<Contestant>();
            foreach (var c in config.Contestants)
            {
                if (c.Model is { } model)
                {
                    if (c.Adapter is not null)
                        throw new R1Error($"{config.Source}: contestant '{c.Name}': adapters are not supported yet (\"adapter\": \"{c.Adapter}\")");
                    if (!byModel.TryGetValue(model, out var service))
                    {
                        try
                        {
                            service = ChatService.Load(model, serving);
                        }
                        catch (Exception e) when (e is R1Error or IOException or UnauthorizedAccessException)
                        {
                            throw new R1Error($"{config.Source}: contestant '{c.Name}': cannot load {model}: {e.Message}", e);
                        }
                        byModel[model] = service;
                        contestants.services.Add(service);
                        contestants.FirstLocalModel ??= model;
                    }
                    all.Add(new LocalContestant(c.Name, c.Sampling, service));
                }
                else
                {
                    OpenAiEndpoint endpoint;
                    try
                    {
                        endpoint = new OpenAiEndpoint(new EndpointOptions { Url = c.Url!, Model = c.EndpointModel! },
                            OpenAiEndpoint.KeyFromEnvironment(c.ApiKeyEnv, "api_key_env"));
                    }
                    catch (R1Error e)
                    {
                        throw new R1Error($"{config.Source}: contestant '{c.Name}': {e.Message}", e);
                    }
                    contestants.endpoints.Add(endpoint);
                    all.Add(new EndpointContestant(c.Name, c.Sampling, endpoint));
                }
            }
            contestants.All = all;
            return contestants;
        }
        catch
        {
            contestants.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var service in services) service.Dispose();
        foreach (var endpoint in endpoints) endpoint.Dispose();
    }
}
