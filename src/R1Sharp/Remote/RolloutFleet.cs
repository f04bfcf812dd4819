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
/// replica load it (POST /update_weights_from_disk, SGLang's API) and report the new version — or, for a LoRA learner,
/// <see cref="SyncAdapter"/> writes only the adapter and has every live replica load it under the step's name (vLLM's
/// POST /v1/load_lora_adapter) and list it; the step starts only then.
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
        /// <summary>With a LoRA learner, the step adapter the replica serves (<see cref="SyncAdapter"/>), which requests name instead.</summary>
        public string? Adapter;
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
                if (replica.Adapter is null) await EnsureModelName(replica, cancellation);
                Interlocked.Increment(ref replica.Requests);
                var reply = await replica.Endpoint.CompleteTokensAsync(call with { Model = replica.Adapter ?? replica.Model }, cancellation);
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
    /// weights go to <paramref name="weightsDir"/>/step-N, replicas that were out are probed and rejoin if they answer,
    /// and each live replica loads the checkpoint (POST /update_weights_from_disk) and must report the version back. A
    /// replica that fails is taken out; with none left this throws. Older checkpoint directories are deleted.
    /// </summary>
    public void Sync(CausalLanguageModel policy, int version, string weightsDir, CancellationToken cancellation = default)
    {
        string tag = version.ToString(CultureInfo.InvariantCulture);
        SyncStep(weightsDir, version, dir => ModelCheckpoint.Save(policy, dir), async (replica, dir) =>
        {
            await EnsureModelName(replica, cancellation);
            var reply = await replica.Endpoint.PostToServerAsync("/update_weights_from_disk",
                new JsonObject { ["model_path"] = dir, ["weight_version"] = tag }, cancellation);
            // `r1 serve` echoes the version it now serves; a server that names none (older SGLang) is taken at its "success".
            string? reported = reply["weight_version"]?.ToString();
            if (reply["success"]?.GetValue<bool>() != true || (reported is not null && reported != tag))
                throw new R1Error($"{replica.Endpoint.Where}: loaded the weights but reports version '{reported}', not '{tag}'");
        }, cancellation);
    }

    /// <summary>What the fleet names the adapter after <paramref name="version"/> steps on its replicas: a new name every step.</summary>
    public static string AdapterName(int version) => AdapterNamePrefix + version.ToString(CultureInfo.InvariantCulture);

    /// <summary>Every step adapter's name starts so; the fleet unloads any other one it finds on a replica.</summary>
    public const string AdapterNamePrefix = "r1-grpo-step-";

    /// <summary>
    /// The LoRA form of <see cref="Sync"/>: only <paramref name="adapter"/> goes to <paramref name="weightsDir"/>/step-N (PEFT
    /// format), and each live replica loads it under <see cref="AdapterName"/>(N) through vLLM's runtime LoRA API (POST
    /// /v1/load_lora_adapter), unloads the step adapters it held before, and must then list the new name in GET /v1/models.
    /// From then on rollout requests name that adapter as their "model". A new name every step rather than a reload under
    /// one name: vLLM keys its prefix cache by the adapter's name and id, and may serve a reloaded adapter from the old
    /// one's cache.
    /// </summary>
    public void SyncAdapter(LoraAdapter adapter, int version, string weightsDir, CancellationToken cancellation = default)
    {
        string name = AdapterName(version);
        SyncStep(weightsDir, version, dir => PeftAdapter.Save(adapter, dir), async (replica, dir) =>
        {
            var before = await AdapterNames(replica, cancellation);
            // A name a replica holds already is a step adapter of an earlier learner (a run resumed from a checkpoint):
            // its weights may be others than this step's, so it goes first.
            if (before.Contains(name)) await PostAdapterCall(replica, "/unload_lora_adapter", name, null, cancellation);
            await PostAdapterCall(replica, "/load_lora_adapter", name, dir, cancellation);
            replica.Adapter = name;
            foreach (var old in before.Where(n => n != name)) await PostAdapterCall(replica, "/unload_lora_adapter", old, null, cancellation);
            if (!(await AdapterNames(replica, cancellation)).Contains(name))
                throw new R1Error($"{replica.Endpoint.Where}: loaded adapter '{name}' but GET /models does not list it");
        }, cancellation);
    }

    /// <summary>
    /// Writes step <paramref name="version"/>'s folder whole (<paramref name="write"/> on a temporary name, then renamed,
    /// so no replica reads half of it), has every replica — those that were out too, if they answer /health — run
    /// <paramref name="load"/> on it, and deletes the older step folders. A replica whose load fails is taken out; with
    /// none left this throws.
    /// </summary>
    void SyncStep(string weightsDir, int version, Action<string> write, Func<Replica, string, Task> load, CancellationToken cancellation)
    {
        string dir = Path.GetFullPath(Path.Combine(weightsDir, $"step-{version.ToString(CultureInfo.InvariantCulture)}"));
        AtomicFile.WriteDirectory(dir, write);
        Task.Run(async () =>
        {
            await Task.WhenAll(replicas.Select(async replica =>
            {
                if (!replica.Live && await replica.Endpoint.ProbeAsync(replica.Endpoint.ServerRoot + "/health", TimeSpan.FromSeconds(5), cancellation) is null)
                    return;
                try
                {
                    await load(replica, dir);
                    replica.Live = true;
                }
                catch (Exception e) when (e is R1Error or InvalidOperationException or FormatException)
                {
                    TakeOut(replica, e.Message);
                }
            }));
            if (LiveReplicas == 0) throw NoneLeft();
        }, cancellation).GetAwaiter().GetResult();
        foreach (var old in Directory.EnumerateDirectories(weightsDir, "step-*").Where(d => Path.GetFullPath(d) != dir))
            Directory.Delete(old, recursive: true);
    }

    /// <summary>The step adapters (<see cref="AdapterNamePrefix"/>) the replica's GET {url}/models lists.</summary>
    static async Task<List<string>> AdapterNames(Replica replica, CancellationToken cancellation)
    {
        var models = await replica.Endpoint.ProbeAsync(replica.Endpoint.Options.Url.TrimEnd('/') + "/models", TimeSpan.FromSeconds(30), cancellation)
            ?? throw new R1Error($"{replica.Endpoint.Where}: GET /models did not answer");
        return (models["data"] as JsonArray ?? []).Select(m => m?["id"]?.GetValue<string>())
            .OfType<string>().Where(id => id.StartsWith(AdapterNamePrefix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>vLLM's POST {url}/load_lora_adapter or /unload_lora_adapter (their answer is plain text; its status is what counts).</summary>
    static Task PostAdapterCall(Replica replica, string path, string name, string? dir, CancellationToken cancellation)
    {
        var body = new JsonObject { ["lora_name"] = name };
        if (dir is not null) body["lora_path"] = dir;
        return replica.Endpoint.PostToApiAsync(path, body, cancellation);
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
