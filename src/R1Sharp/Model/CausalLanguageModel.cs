using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>The embedding, the decoder layers and the final norm: HF's "model." prefix.</summary>
public sealed class TransformerBody : nn.Module
{
    internal readonly TokenEmbedding embed_tokens;
    internal readonly ModuleList<DecoderLayer> layers;
    internal readonly RmsNorm norm;

    public TransformerBody(ModelConfig config) : base(nameof(TransformerBody))
    {
        embed_tokens = new TokenEmbedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }
}

/// <summary>
/// A decoder-only language model of the llama, qwen2 or deepseek_v3 family. Its parameter names are
/// Hugging Face's, so a HF checkpoint's state dict loads into it unchanged.
/// </summary>
public sealed class CausalLanguageModel : nn.Module
{
    readonly TransformerBody model;
    readonly Projection? lm_head;
    RotaryEmbedding rotary;

    public ModelConfig Config { get; }
    public Device Device { get; private set; } = CPU;

    /// <summary>Builds the model with HF-style random init (normal(0, initializer_range)); seed it for reproducibility.</summary>
    public CausalLanguageModel(ModelConfig config) : base(nameof(CausalLanguageModel))
    {
        Config = config.Validate();
        model = new TransformerBody(config);
        if (!config.TieWordEmbeddings) lm_head = new Projection(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        rotary = CreateRotary(CPU);
        InitializeWeights();
    }

    public IReadOnlyList<DecoderLayer> Layers => model.layers.ToList();

    /// <summary>The layers without a copy of the list (read every decode step).</summary>
    internal ModuleList<DecoderLayer> DecoderLayers => model.layers;

    /// <summary>
    /// The rotary tables. YaRN on the GQA families scales them by its attention factor as HF does; MLA instead puts
    /// mscale² on the softmax scale (<see cref="RotaryEmbedding.AttentionScaleFactor"/>), as DeepSeek does.
    /// </summary>
    RotaryEmbedding CreateRotary(Device device) => new(
        Config.IsMla ? Config.QkRopeHeadDim : Config.GqaHeadDim, Config.MaxPositionEmbeddings,
        Config.RopeTheta, Config.RopeScaling, interleaved: Config.IsMla && Config.RopeInterleave, device,
        magnitude: !Config.IsMla && Config.RopeScaling is { Type: "yarn" } yarn ? yarn.YarnAttentionFactor : 1);

    void InitializeWeights()
    {
        if (WeightStorage.Deferred) return; // the weights come from a file
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters()) Initialize(name, p, Config.InitializerRange);
    }

    /// <summary>
    /// HF's init of the tensor named <paramref name="name"/>, in place: RMSNorm weights one, biases (and DeepSeek's routing
    /// correction bias) zero, every other weight normal(0, <paramref name="range"/>) from <paramref name="generator"/>
    /// (the global one when null). `r1 init` applies it tensor by tensor without building the model.
    /// </summary>
    public static void Initialize(string name, Tensor tensor, double range, Generator? generator = null)
    {
        using var _ = no_grad();
        if (name.EndsWith("norm.weight")) tensor.fill_(1);
        else if (name.EndsWith("bias")) tensor.zero_();
        else tensor.normal_(0, range, generator);
    }

    /// <summary>Moves parameters and the rotary tables to <paramref name="device"/>.</summary>
    public CausalLanguageModel MoveTo(Device device)
    {
        this.to(device);
        rotary.Dispose();
        rotary = CreateRotary(device);
        Device = device;
        return this;
    }

    /// <summary>
    /// Training forward: logits [B, T, vocab] for input ids [B, T]. <paramref name="attentionMask"/> [B, T]
    /// (1 = token, 0 = padding, left or right) gives padded rows the same result as unpadded ones.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        Tensor positions;
        Tensor? mask = null;
        if (attentionMask is null)
        {
            positions = arange(inputIds.shape[1], device: inputIds.device).unsqueeze(0).expand(inputIds.shape[0], -1);
        }
        else
        {
            positions = PositionsFromMask(attentionMask);
            mask = AttentionMasks.Build(attentionMask.to(@bool), past: 0, queries: (int)inputIds.shape[1]);
        }
        var context = new AttentionContext { Mask = mask, IsCausal = mask is null, Rope = rotary.At(positions), Rotary = rotary };
        return Head(Body(inputIds, context)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Inference forward with a KV cache, in libtorch: the reference that the engine's CPU kernels are tested against
    /// (the engine picks between them, see Inference/ForwardRunner). Appends <paramref name="inputIds"/> [B, T] at the
    /// cache's end. <paramref name="keyMask"/> [B, cache.Length + T] marks real (non-padding) positions; null means all
    /// real. Returns logits of the last position only, [B, vocab], unless <paramref name="allPositions"/>.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, bool allPositions = false)
    {
        using var scope = NewDisposeScope();
        int past = cache.Length;
        int t = (int)inputIds.shape[1];
        var mask = keyMask is null && (past == 0 || t == 1) ? null
            : AttentionMasks.Build(keyMask?.to(@bool) ?? ones(inputIds.shape[0], past + t, dtype: @bool, device: inputIds.device), past, t);
        var context = new AttentionContext
        {
            Mask = mask, IsCausal = mask is null && past == 0, Rope = rotary.At(positions), Rotary = rotary,
            Cache = cache, PastLength = past,
        };
        var h = Body(inputIds, context);
        cache.Advance(t);
        if (!allPositions) h = h.narrow(1, t - 1, 1).squeeze(1);
        return Head(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Recompute each decoder layer's activations in backward instead of keeping them (<see cref="CheckpointedLayer"/>):
    /// training forwards then hold one hidden state per layer, for one more forward's compute. Default off.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    Tensor Body(Tensor inputIds, AttentionContext context)
    {
        var h = model.embed_tokens.forward(inputIds);
        bool checkpoint = GradientCheckpointing && context.Cache is null && is_grad_enabled();
        foreach (var layer in model.layers) h = checkpoint ? CheckpointedLayer.Run(layer, h, context) : layer.Forward(h, context);
        return model.norm.forward(h);
    }

    Tensor Head(Tensor h)
    {
        if (lm_head is not null) return lm_head.forward(h);
        using var scope = NewDisposeScope();
        return nn.functional.linear(h, model.embed_tokens.DenseWeight()).MoveToOuterDisposeScope();
    }

    /// <summary>The modules a CPU-kernel forward reads besides the layers': embedding, final norm, output projection (null when tied).</summary>
    internal (TokenEmbedding Embedding, Tensor FinalNorm, Projection? Head) InferenceWeights() => (model.embed_tokens, model.norm.Weight, lm_head);

    /// <summary>The token embedding (its table may be packed).</summary>
    public TokenEmbedding Embedding => model.embed_tokens;

    /// <summary>The output projection, or null when it is the embedding (tied).</summary>
    public Projection? OutputProjection => lm_head;

    /// <summary>The final RMSNorm before the output projection.</summary>
    public RmsNorm FinalNorm => model.norm;

    internal Tensor FinalNormWeight => model.norm.Weight;

    internal (Tensor Cos, Tensor Sin) RotaryTables => rotary.Tables;

    /// <summary>Position of each token counting only real tokens: left padding does not shift positions.</summary>
    public static Tensor PositionsFromMask(Tensor attentionMask) =>
        (attentionMask.to(int64).cumsum(1) - 1).clamp_min(0);

    /// <summary>Aux-loss-free MoE balancing after a training step; no-op for dense models.</summary>
    public void UpdateRoutingBias(double gamma)
    {
        foreach (var layer in model.layers) layer.Moe?.Gate.UpdateBias(gamma);
    }

    /// <summary>
    /// Parameters and buffers by HF name (the tied lm_head is not listed, as HF omits it). A model with packed weights
    /// (read from a GGUF file) has no float matrices to list: it runs, but is not saved or trained.
    /// </summary>
    public Dictionary<string, Tensor> HfStateDict()
    {
        if (IsPacked)
            throw new R1Error("this model's weights are packed (read from a GGUF file): it can generate, but not be trained, saved or exported; " +
                              "use `r1 quantize` to convert the GGUF file itself");
        return state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>True when some matrix is a <see cref="PackedMatrix"/> (the model was read from a GGUF file).</summary>
    public bool IsPacked => modules().Any(m => m is Projection { Packed: not null } or TokenEmbedding { Packed: not null });

    /// <summary>HF name → shape of every tensor a checkpoint of this config must hold.</summary>
    public Dictionary<string, long[]> ExpectedShapes() => state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

    /// <summary>What keeps packed weights' memory alive (a mapped GGUF file); released with the model.</summary>
    public IDisposable? WeightMemory { get; set; }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            rotary.Dispose();
            WeightMemory?.Dispose();
        }
        base.Dispose(disposing);
    }
}
