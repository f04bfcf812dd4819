namespace R1Sharp.Serving;

/// <summary>How a <see cref="ChatService"/> shares the model between requests.</summary>
public sealed record ServingOptions
{
    /// <summary>Quantize a model directory's weights to this GGUF type at load (`--quantize`); null runs them as stored.</summary>
    public Gguf.GgufDType? Quantize { get; init; }
    /// <summary>The weights generation reads (`--precision`): fp32 (default), bf16 copies, or auto (<see cref="Inference.GenerationPrecision"/>).</summary>
    public Training.Precision Precision { get; init; } = Training.Precision.Fp32;
    /// <summary>Most sequences decoded together in one step (a request with n choices takes n).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Most requests waiting for room in the batch; more are refused (HTTP 429).</summary>
    public int MaxQueue { get; init; } = 64;
    /// <summary>Completion length when a request sets none; always capped by the context the prompt leaves.</summary>
    public int DefaultMaxTokens { get; init; } = 4096;
    /// <summary>
    /// Most bytes the batch's KV cache may take (a request waits until its rows fit, and one that alone needs more is
    /// refused with 400, so no request can make the others fail for memory); null: half of this machine's memory.
    /// </summary>
    public long? MaxCacheBytes { get; init; }
    /// <summary>The model's name for clients (the "model" field); null uses the model directory's name.</summary>
    public string? ModelId { get; init; }
    /// <summary>LoRA adapters served beside the base, as vLLM does: a request whose "model" is a name here runs the base
    /// with that adapter (PEFT folder). Default none.</summary>
    public IReadOnlyDictionary<string, string> Adapters { get; init; } = new Dictionary<string, string>();
    /// <summary>
    /// Whether special-token text in message contents ("&lt;｜Assistant｜&gt;", "&lt;|im_end|&gt;") becomes the control
    /// token, as transformers' apply_chat_template does. Off: contents are plain text, so a user cannot forge turns.
    /// </summary>
    public bool ParseSpecialInContent { get; init; }

    /// <summary><see cref="MaxCacheBytes"/>, or half of the memory this process may use.</summary>
    public long CacheBytes => MaxCacheBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
}
