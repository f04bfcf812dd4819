using System.Text;
using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>
/// A model ready to chat with many callers at once: renders each conversation with the model's chat template,
/// sends it to the shared <see cref="ContinuousBatcher"/>, and hands back a <see cref="ChatCompletionJob"/> that
/// streams the reasoning apart from the answer. Both the HTTP server and <see cref="R1ChatClient"/> sit on it.
/// </summary>
public sealed class ChatService : IDisposable
{
    /// <summary>
    /// The LoRA adapters served beside the base, by name; attached to the model, never active outside a request's batch.
    /// Guarded by its own lock: requests look names up on their threads while <see cref="LoadAdapterAsync"/> and
    /// <see cref="UnloadAdapterAsync"/> change the set.
    /// </summary>
    readonly Dictionary<string, ServedAdapter> adapters = new(StringComparer.Ordinal);

    /// <summary>An adapter and whether it is being unloaded (it then takes no new requests and is no longer listed).</summary>
    sealed class ServedAdapter(LoraAdapter adapter)
    {
        public LoraAdapter Adapter => adapter;
        public bool Unloading;
    }

    public ChatService(ModelBundle bundle, ServingOptions? options = null)
    {
        Bundle = bundle;
        Options = options ?? new ServingOptions();
        if (Options.DefaultMaxTokens < 1) throw new R1Error($"default max tokens must be >= 1, got {Options.DefaultMaxTokens}");
        ModelId = Options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(bundle.Directory)));
        EndOfTurnIds = DecodeLoop.EndOfTurnIds(bundle.Model.Config, bundle.Tokenizer);
        foreach (var (name, dir) in Options.Adapters)
        {
            if (name.Length == 0 || name == ModelId) throw new R1Error($"adapter '{dir}': its name must be non-empty and differ from the base's ('{ModelId}')");
            adapters[name] = new ServedAdapter(PeftAdapter.Load(dir, bundle.Model));
        }
        // The LoRA hooks go on the model before the decode loop starts, so an adapter loaded later never changes them
        // under a running forward.
        LoraAdapter.Attach(bundle.Model);
        // One token through the model before the first request: the CPU kernels repack a GGUF file's quantized weights
        // and the JIT compiles them at their first product — seconds for a large file, which the first reply would wait.
        new GenerationEngine(bundle.Model).Generate([new GenerationRequest([0], new SamplingOptions { Temperature = 0, MaxNewTokens = 1 })]);
        Batcher = new ContinuousBatcher(bundle.Model, bundle.Tokenizer, Options.MaxBatch, Options.MaxQueue, Options.CacheBytes);
    }

    /// <summary>Loads the model directory (or GGUF file) and the LoRA adapters the options name, and starts the decode loop.</summary>
    public static ChatService Load(string modelDir, ServingOptions? options = null)
    {
        var bundle = ModelBundle.Load(modelDir, quantize: options?.Quantize, precision: options?.Precision ?? Training.Precision.Fp32);
        try
        {
            return new ChatService(bundle, options);
        }
        catch
        {
            bundle.Dispose(); // a bad option or adapter: the model goes too
            throw;
        }
    }

    public ModelBundle Bundle { get; }
    public ServingOptions Options { get; }
    public ContinuousBatcher Batcher { get; }
    public string ModelId { get; }
    /// <summary>The token ids that end every completion (<see cref="DecodeLoop.EndOfTurnIds"/>).</summary>
    public IReadOnlySet<int> EndOfTurnIds { get; }
    /// <summary>Every name a request's "model" may hold: the base's, then each LoRA adapter's.</summary>
    public IReadOnlyList<string> ModelIds
    {
        get
        {
            lock (adapters) return [ModelId, .. adapters.Where(a => !a.Value.Unloading).Select(a => a.Key)];
        }
    }
    public int ContextLength => Bundle.Model.Config.MaxPositionEmbeddings;

    /// <summary>
    /// Starts a completion. Throws <see cref="R1Error"/> for a bad request, <see cref="ContextLengthError"/> when it does
    /// not fit the context and <see cref="QueueFullError"/> when too many requests wait. Cancelling the token stops the
    /// generation and frees its rows in the batch.
    /// </summary>
    public ChatCompletionJob Start(ChatRequest request, CancellationToken cancellation = default)
    {
        if (request.Messages.Count == 0) throw new R1Error("messages must not be empty");
        lock (adapters) AdapterFor(request.Model); // a name not served fails before the prompt is rendered
        if (request.N < 1 || request.N > Options.MaxBatch) throw new R1Error($"n must be in [1, {Options.MaxBatch}], got {request.N}");
        // A token stands for a bounded number of bytes, so text beyond the context's worth is refused before the
        // tokenizer spends time and memory on it.
        long textBytes = request.Messages.Sum(m => (long)Encoding.UTF8.GetByteCount(m.Content));
        long maxTextBytes = (long)ContextLength * Bundle.Tokenizer.MaxInputBytesPerToken(withAddedTokens: Options.ParseSpecialInContent);
        if (textBytes > maxTextBytes) throw ContextLengthError.TooMuchText(ContextLength, textBytes, maxTextBytes);
        var prompt = Bundle.EncodeChat(request.Messages, Options.ParseSpecialInContent);
        int room = ContextLength - prompt.Count;
        int maxTokens = request.MaxTokens ?? Math.Min(Options.DefaultMaxTokens, room);
        if (maxTokens < 1 && request.MaxTokens is not null) throw new R1Error($"max_tokens must be >= 1, got {maxTokens}");
        if (room < 1 || maxTokens > room) throw new ContextLengthError(ContextLength, prompt.Count, Math.Max(maxTokens, 1));
        var defaults = new SamplingOptions();
        var sampling = new SamplingOptions
        {
            Temperature = request.Temperature ?? defaults.Temperature,
            TopP = request.TopP ?? defaults.TopP,
            TopK = request.TopK ?? defaults.TopK,
            MaxNewTokens = maxTokens,
            Seed = request.Seed,
            StopStrings = request.Stop.Where(s => s.Length > 0).ToList(),
        };
        var job = new ChatCompletionJob("chatcmpl-" + Guid.NewGuid().ToString("N"), prompt.Count, request.N, Bundle.Tokenizer,
            Bundle.Template.OpensThink, sampling.StopStrings);
        Submit(request.Model, new GenerationRequest(prompt, sampling, request.N), job, cancellation);
        return job;
    }

    /// <summary>
    /// Starts a completion of <paramref name="prompt"/>, token ids the caller rendered itself (an RL learner sends the
    /// exact prompt it trains on), with the base or the LoRA adapter <paramref name="model"/> names (null: the base).
    /// Throws as <see cref="Start"/> does.
    /// </summary>
    public TokenCompletionJob StartTokens(IReadOnlyList<int> prompt, SamplingOptions sampling, int n, string? model = null,
        CancellationToken cancellation = default)
    {
        if (n < 1 || n > Options.MaxBatch) throw new R1Error($"n must be in [1, {Options.MaxBatch}], got {n}");
        var job = new TokenCompletionJob("cmpl-" + Guid.NewGuid().ToString("N"), prompt, n);
        Submit(model, new GenerationRequest(prompt, sampling, n), job, cancellation);
        return job;
    }

    /// <summary>
    /// Queues <paramref name="request"/> with the adapter <paramref name="model"/> names, looked up and queued under the
    /// adapters' lock: once an unload has begun, no request for that adapter can reach the queue behind its back.
    /// </summary>
    void Submit(string? model, GenerationRequest request, ISampleSink sink, CancellationToken cancellation)
    {
        lock (adapters) Batcher.Submit(request with { Adapter = AdapterFor(model) }, sink, cancellation);
    }

    /// <summary>The adapter a request's "model" names: null for the base (or no name); a name not served throws. Under the lock.</summary>
    LoraAdapter? AdapterFor(string? model)
    {
        if (model is null || model == ModelId) return null;
        if (adapters.TryGetValue(model, out var served) && !served.Unloading) return served.Adapter;
        throw new ModelNotServedError(served is not null
            ? $"The model '{UntrustedText.Printable(model)}' is being unloaded and takes no new requests"
            : $"The model '{UntrustedText.Printable(model)}' does not exist; this server serves {string.Join(", ", ModelIds.Select(m => $"'{m}'"))}");
    }

    /// <summary>Longest adapter name <see cref="LoadAdapterAsync"/> takes (names are echoed in every reply and listing).</summary>
    public const int MaxAdapterNameLength = 256;

    /// <summary>
    /// Loads the PEFT adapter in <paramref name="dir"/> (untrusted: read and checked as <see cref="PeftAdapter.Load"/>
    /// does) and serves it under <paramref name="name"/> from now on: vLLM's POST /v1/load_lora_adapter. A name already
    /// served (or being unloaded), or one malformed, is an <see cref="AdapterNameError"/>; a bad folder an <see cref="R1Error"/> naming
    /// the problem. The new adapter is in no batch until a request names it, so the decode loop goes on meanwhile.
    /// </summary>
    public Task LoadAdapterAsync(string name, string dir)
    {
        if (name.Length == 0 || name.Length > MaxAdapterNameLength || name.Any(char.IsControl) || name.Trim() != name)
            throw new AdapterNameError($"an adapter name must be 1 to {MaxAdapterNameLength} characters, without control characters or " +
                              $"leading or trailing spaces; got '{UntrustedText.Printable(name)}'");
        if (name == ModelId) throw new AdapterNameError($"'{UntrustedText.Printable(name)}' is the base model's name");
        lock (adapters)
            if (adapters.ContainsKey(name)) throw AdapterNameError.For(name);
        return Task.Run(() =>
        {
            var adapter = PeftAdapter.Load(dir, Bundle.Model);
            lock (adapters)
            {
                if (adapters.TryAdd(name, new ServedAdapter(adapter))) return;
            }
            adapter.Dispose(); // another load of this name won the race
            throw AdapterNameError.For(name);
        });
    }

    /// <summary>
    /// Stops serving the adapter <paramref name="name"/> (vLLM's POST /v1/unload_lora_adapter): from now on requests for it
    /// are refused and it is no longer listed; the task ends once no queued or running request uses it and it is freed,
    /// between two decoding steps. False when no adapter of that name is served (or its unload has already begun).
    /// </summary>
    public async Task<bool> UnloadAdapterAsync(string name)
    {
        ServedAdapter? served;
        lock (adapters)
        {
            if (!adapters.TryGetValue(name, out served) || served.Unloading) return false;
            served.Unloading = true;
        }
        await Batcher.ReleaseAsync(served.Adapter, () =>
        {
            lock (adapters) adapters.Remove(name);
            served.Adapter.Dispose();
        });
        return true;
    }

    /// <summary>The version of the weights being served: null for those loaded at start, else the last reload's.</summary>
    public string? WeightVersion { get; private set; }

    /// <summary>
    /// Replaces the served weights with the checkpoint in <paramref name="dir"/> (same architecture) between two
    /// decoding steps, and names them <paramref name="version"/>. Requests running across the swap continue on the new
    /// weights; a learner syncs between its rollout batches, when none of its own are running.
    /// </summary>
    public async Task ReloadWeightsAsync(string dir, string? version)
    {
        await Batcher.BetweenStepsAsync(() => ModelCheckpoint.LoadInto(Bundle.Model, dir));
        WeightVersion = version;
    }

    public void Dispose()
    {
        Batcher.Dispose();
        foreach (var served in adapters.Values) served.Adapter.Dispose();
        Bundle.Dispose();
    }
}

/// <summary>A request named a model this server does not serve, or an adapter being unloaded (HTTP 404 model_not_found).</summary>
public sealed class ModelNotServedError(string message) : R1Error(message);

/// <summary>A LoRA adapter cannot be loaded under this name: malformed, the base's, or served already (HTTP 400, as vLLM answers).</summary>
public sealed class AdapterNameError(string message) : R1Error(message)
{
    public static AdapterNameError For(string name) =>
        new($"The lora adapter '{UntrustedText.Printable(name)}' has already been loaded; unload it first to load another under this name");
}
