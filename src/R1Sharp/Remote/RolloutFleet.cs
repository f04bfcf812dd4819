using System.Globalization;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Training;

namespace R1Sharp.Remote;

/// <summary>Where GRPO's rollouts are generated when not in process, and how hard to try each server.</summary>
public sealed record RolloutFleetOptions
{
    /// <summary>Each replica's OpenAI API base URL, e.g. http://10.0.0.5:8080/v1.</summary>
    public required IReadOnlyList<string> Urls { get; init; }
    /// <summary>The "model" field of requests; null asks each replica's GET {url}/models for the model it serves.</summary>
    public string? Model { get; init; }
    /// <summary>One attempt's limit; a replica past it is taken out and its request re-sent to another. Default 600 s.</summary>
    public double RequestTimeoutSeconds { get; init; } = 600;
    /// <summary>Tries of a request on one replica before the replica is taken out. Default 2.</summary>
    public int AttemptsPerReplica { get; init; } = 2;
    /// <summary>Wait before a replica's second try (doubling after). Default 0.5 s.</summary>
    public double RetryDelaySeconds { get; init; } = 0.5;
    /// <summary>Most requests in flight to one replica (its batch fills from these). Default 64.</summary>
    public int ConcurrencyPerReplica { get; init; } = 64;
}

/// <summary>
/// GRPO's rollouts on a fleet of OpenAI-compatible servers (`r1 serve` replicas, vLLM, SGLang): each prompt is one
/// POST /v1/completions of its token ids with n = G samples and its seed (<see cref="OpenAiEndpoint.CompleteTokensAsync"/>),
/// sent to the live replica with the fewest requests outstanding. A replica that fails or times out is taken out and its
/// requests re-sent to the others; it rejoins at the next weight sync if its /health answers. Before each step
/// <see cref="Sync"/> writes the learner's weights to a checkpoint directory the replicas can read and has every live
/// replica load it (POST /update_weights_from_disk, SGLang's API) and report the new version; the step starts only then.
/// </summary>
public sealed class RolloutFleet : IDisposable
{
    /// <summary>One server: its client, whether it is in the fleet, and its counters.</summary>
    sealed class Replica(OpenAiEndpoint endpoint)
    {
        public OpenAiEndpoint Endpoint => endpoint;
        public volatile bool Live = true;
        public int Outstanding;
        public long Requests, Errors;
        public string? LastError;
        /// <summary>The model name requests carry: rollout_model, else what the replica's GET /models names.</summary>
        public string? Model;
    }

    readonly RolloutFleetOptions options;
    readonly Replica[] replicas;
    readonly Lock pick = new();

    /// <param name="apiKey">Sent to every replica as "Authorization: Bearer KEY"; null sends none.</param>
    public RolloutFleet(RolloutFleetOptions options, string? apiKey = null)
    {
        this.options = options;
        if (options.Urls.Count == 0) throw new R1Error("rollout_endpoints is empty: give at least one server URL");
        if (options.Urls.Distinct().Count() != options.Urls.Count) throw new R1Error("rollout_endpoints names a server twice");
        if (options.AttemptsPerReplica < 1) throw new R1Error($"attempts per replica must be at least 1, got {options.AttemptsPerReplica}");
        replicas = options.Urls.Select(url => new Replica(new OpenAiEndpoint(new EndpointOptions
        {
            // Requests name the model per replica (Replica.Model); this one is only the client's default.
            Url = url, Model = options.Model ?? "default", Concurrency = options.ConcurrencyPerReplica,
            MaxAttempts = options.AttemptsPerReplica, RequestTimeoutSeconds = options.RequestTimeoutSeconds,
            FirstRetryDelaySeconds = options.RetryDelaySeconds, MaxRetryDelaySeconds = Math.Max(options.RetryDelaySeconds, 5),
        }, apiKey)) { Model = options.Model }).ToArray();
    }

    public int Replicas => replicas.Length;
    public int LiveReplicas => replicas.Count(r => r.Live);

    /// <summary>
    /// Every request's samples, indexed [request][sample] as <see cref="GenerationEngine.Generate"/>'s, each request on
    /// one replica. Throws <see cref="R1Error"/> once no replica is left.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<GeneratedSample>> Generate(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellation = default) =>
        Task.Run(() => GenerateAsync(requests, cancellation), cancellation).GetAwaiter().GetResult();

    async Task<IReadOnlyList<IReadOnlyList<GeneratedSample>>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var tasks = requests.Select((r, i) => OneAsync(r, i, stop.Token)).ToList();
        try
        {
            return await Task.WhenAll(tasks);
        }
        finally
        {
            stop.Cancel(); // one request with no replica left ends the others
        }
    }

    async Task<IReadOnlyList<GeneratedSample>> OneAsync(GenerationRequest request, int index, CancellationToken cancellation)
    {
        var o = request.Options;
        var call = new TokenCall(request.PromptIds, request.NumSamples, o.Temperature, o.TopP, o.TopK, o.MaxNewTokens, o.Seed);
        while (true)
        {
            var replica = Pick() ?? throw NoneLeft();
            try
            {
                await EnsureModelName(replica, cancellation);
                Interlocked.Increment(ref replica.Requests);
                var reply = await replica.Endpoint.CompleteTokensAsync(call with { Model = replica.Model }, cancellation);
                return reply.Choices.Select((c, s) => new GeneratedSample(index, s, c.TokenIds, c.LogProbs,
                    c.FinishReason == "length" ? FinishReason.Length : FinishReason.Stop)).ToList();
            }
            catch (R1Error e)
            {
                // Failed or timed out after its tries: out of the fleet until it answers again; the request goes elsewhere.
                TakeOut(replica, e.Message);
            }
            finally
            {
                Interlocked.Decrement(ref replica.Outstanding);
            }
        }
    }

    /// <summary>The live replica with the fewest requests outstanding (the first of equals), now one more; null when none is live.</summary>
    Replica? Pick()
    {
        lock (pick)
        {
            var best = replicas.Where(r => r.Live).MinBy(r => r.Outstanding);
            if (best is not null) best.Outstanding++;
            return best;
        }
    }

    void TakeOut(Replica replica, string why)
    {
        Interlocked.Increment(ref replica.Errors);
        replica.LastError = why;
        replica.Live = false;
    }

    NoReplicaLeftError NoneLeft() => new($"no rollout replica is left ({string.Join("; ", replicas.Select(r => $"{r.Endpoint.Where}: {r.LastError ?? "out"}"))}); " +
        "start the servers and continue the run with --resume");

    /// <summary>
    /// Makes every replica serve the learner's weights as version <paramref name="version"/> (the learner's step): the
    /// weights go to <paramref name="weightsDir"/>/step-N, replicas that were out are
    /// probed and rejoin if they answer, and each live replica loads the checkpoint and must report the version back. A
    /// replica that fails is taken out; with none left this throws. Older checkpoint directories are deleted.
    /// </summary>
    public void Sync(CausalLanguageModel policy, int version, string weightsDir, CancellationToken cancellation = default)
    {
        string tag = version.ToString(CultureInfo.InvariantCulture);
        string dir = Path.GetFullPath(Path.Combine(weightsDir, $"step-{tag}"));
        // Written whole under a temporary name first, so no replica can read half a checkpoint.
        string temp = dir + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        ModelCheckpoint.Save(policy, temp);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.Move(temp, dir);
        Task.Run(() => SyncAsync(dir, tag, cancellation), cancellation).GetAwaiter().GetResult();
        foreach (var old in Directory.EnumerateDirectories(weightsDir, "step-*").Where(d => Path.GetFullPath(d) != dir))
            Directory.Delete(old, recursive: true);
    }

    async Task SyncAsync(string dir, string version, CancellationToken cancellation)
    {
        await Task.WhenAll(replicas.Select(async replica =>
        {
            if (!replica.Live && await replica.Endpoint.ProbeAsync(replica.Endpoint.ServerRoot + "/health", TimeSpan.FromSeconds(5), cancellation) is null)
                return;
            try
            {
                await EnsureModelName(replica, cancellation);
                var reply = await replica.Endpoint.PostToServerAsync("/update_weights_from_disk",
                    new JsonObject { ["model_path"] = dir, ["weight_version"] = version }, cancellation);
                // `r1 serve` echoes the version it now serves; a server that names none (older SGLang) is taken at its "success".
                string? reported = reply["weight_version"]?.ToString();
                if (reply["success"]?.GetValue<bool>() != true || (reported is not null && reported != version))
                    throw new R1Error($"{replica.Endpoint.Where}: loaded the weights but reports version '{reported}', not '{version}'");
                replica.Live = true;
            }
            catch (Exception e) when (e is R1Error or InvalidOperationException or FormatException)
            {
                TakeOut(replica, e.Message);
            }
        }));
        if (LiveReplicas == 0) throw NoneLeft();
    }

    /// <summary>Without a configured model name, the one the replica serves (GET {url}/models).</summary>
    async Task EnsureModelName(Replica replica, CancellationToken cancellation)
    {
        if (replica.Model is not null) return;
        var models = await replica.Endpoint.ProbeAsync(replica.Endpoint.Options.Url.TrimEnd('/') + "/models", TimeSpan.FromSeconds(30), cancellation);
        string name = (models?["data"] as JsonArray)?.FirstOrDefault()?["id"]?.GetValue<string>()
            ?? throw new R1Error($"{replica.Endpoint.Where}: GET /models names no model; set rollout_model");
        replica.Model = name;
    }

    /// <summary>
    /// The fleet's counters for metrics.jsonl since the last call: rollout/replicas_live, and per replica i
    /// rollout/replica{i}/requests and rollout/replica{i}/errors (requests sent, failures that took it out).
    /// </summary>
    public Dictionary<string, double> TakeMetrics()
    {
        var metrics = new Dictionary<string, double> { [MetricNames.ReplicasLive] = LiveReplicas };
        for (int i = 0; i < replicas.Length; i++)
        {
            metrics[MetricNames.ReplicaRequests(i)] = Interlocked.Exchange(ref replicas[i].Requests, 0);
            metrics[MetricNames.ReplicaErrors(i)] = Interlocked.Exchange(ref replicas[i].Errors, 0);
        }
        return metrics;
    }

    public void Dispose()
    {
        foreach (var replica in replicas) replica.Endpoint.Dispose();
    }
}

/// <summary>Every rollout server has failed or stopped answering.</summary>
public sealed class NoReplicaLeftError(string message) : R1Error(message);
