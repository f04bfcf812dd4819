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
    /// <summary>The LoRA adapters served beside the base, by name; attached to the model, never active outside a request's batch.</summary>
    readonly Dictionary<string, LoraAdapter> adapters = new(StringComparer.Ordinal);

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
            adapters[name] = PeftAdapter.Load(dir, bundle.Model);
        }
        Batcher = new ContinuousBatcher(bundle.Model, bundle.Tokenizer, Options.MaxBatch, Options.MaxQueue, Options.CacheBytes);
    }

    /// <summary>Loads the model directory (or GGUF file) and the LoRA adapters the options name, and starts the decode loop.</summary>
    public static ChatService Load(string modelDir, ServingOptions? options = null)
    {
        var bundle = ModelBundle.Load(modelDir, quantize: options?.Quantize);
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
    public IReadOnlyList<string> ModelIds => [ModelId, .. adapters.Keys];
    public int ContextLength => Bundle.Model.Config.MaxPositionEmbeddings;

    /// <summary>
    /// Starts a completion. Throws <see cref="R1Error"/> for a bad request, <see cref="ContextLengthError"/> when it does
    /// not fit the context and <see cref="QueueFullError"/> when too many requests wait. Cancelling the token stops the
    /// generation and frees its rows in the batch.
    /// </summary>
    public ChatCompletionJob Start(ChatRequest request, CancellationToken cancellation = default)
    {
        if (request.Messages.Count == 0) throw new R1Error("messages must not be empty");
        LoraAdapter? adapter = null;
        if (request.Model is { } model && model != ModelId && !adapters.TryGetValue(model, out adapter))
            throw new R1Error($"model '{model}' is not served here; this server serves {string.Join(", ", ModelIds.Select(m => $"'{m}'"))}");
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
        Batcher.Submit(new GenerationRequest(prompt, sampling, request.N) { Adapter = adapter }, job, cancellation);
        return job;
    }

    /// <summary>
    /// Starts a completion of <paramref name="prompt"/>, token ids the caller rendered itself (an RL learner sends the
    /// exact prompt it trains on). Throws as <see cref="Start"/> does.
    /// </summary>
    public TokenCompletionJob StartTokens(IReadOnlyList<int> prompt, SamplingOptions sampling, int n, CancellationToken cancellation = default)
    {
        if (n < 1 || n > Options.MaxBatch) throw new R1Error($"n must be in [1, {Options.MaxBatch}], got {n}");
        var job = new TokenCompletionJob("cmpl-" + Guid.NewGuid().ToString("N"), prompt, n);
        Batcher.Submit(new GenerationRequest(prompt, sampling, n), job, cancellation);
        return job;
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
        foreach (var adapter in adapters.Values) adapter.Dispose();
        Bundle.Dispose();
    }
}
