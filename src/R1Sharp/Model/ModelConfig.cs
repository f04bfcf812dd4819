using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Model;

/// <summary>The architecture families R1Sharp builds, named by Hugging Face's <c>model_type</c>.</summary>
public enum ModelFamily { Llama, Qwen2, Qwen3, DeepseekV3 }

/// <summary>
/// Hyper-parameters of a decoder transformer, one record for all families, read from and written to a
/// Hugging Face <c>config.json</c> with HF key names. Fields that a family does not use keep their defaults and
/// are not written for that family.
/// </summary>
public sealed record ModelConfig
{
    public ModelFamily Family { get; init; } = ModelFamily.Llama;

    // Shared by all families.
    public int VocabSize { get; init; } = 32000;
    public int HiddenSize { get; init; } = 512;
    /// <summary>Width of the dense SwiGLU MLP (and of DeepSeek's first dense layers).</summary>
    public int IntermediateSize { get; init; } = 1536;
    public int NumHiddenLayers { get; init; } = 6;
    public int NumAttentionHeads { get; init; } = 8;
    /// <summary>GQA: query heads share this many K/V heads (equal to the head count = plain multi-head).</summary>
    public int NumKeyValueHeads { get; init; } = 8;
    /// <summary>
    /// Per-head width for GQA families; null means hidden_size / num_attention_heads. Qwen3 sets it explicitly (HF's
    /// default for qwen3 is 128, not hidden / heads), and its q width heads · head_dim may differ from hidden_size.
    /// </summary>
    public int? HeadDim { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>The HF <c>rope_scaling</c> object as written (yarn or llama3), or null for plain RoPE.</summary>
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Llama's and Qwen3's <c>attention_bias</c>: bias on q/k/v/o. Qwen2 always has q/k/v bias and no o bias.</summary>
    public bool AttentionBias { get; init; }
    public double InitializerRange { get; init; } = 0.02;
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public string TorchDtype { get; init; } = "float32";

    // DeepSeek-V3: Multi-head Latent Attention.
    /// <summary>Rank of the query compression; null or 0 means a plain q_proj (as in DeepSeek-V2-Lite).</summary>
    public int? QLoraRank { get; init; }
    public int KvLoraRank { get; init; } = 512;
    public int QkNopeHeadDim { get; init; } = 128;
    public int QkRopeHeadDim { get; init; } = 64;
    public int VHeadDim { get; init; } = 128;
    /// <summary>DeepSeek checkpoints store the rope rows of q/k in adjacent-pair order.</summary>
    public bool RopeInterleave { get; init; } = true;

    // DeepSeek-V3: DeepSeekMoE.
    public int NRoutedExperts { get; init; } = 0;
    public int NSharedExperts { get; init; } = 0;
    public int NumExpertsPerTok { get; init; } = 0;
    public int MoeIntermediateSize { get; init; } = 0;
    public string ScoringFunc { get; init; } = "sigmoid";
    public int NGroup { get; init; } = 1;
    public int TopkGroup { get; init; } = 1;
    public bool NormTopkProb { get; init; } = true;
    public double RoutedScalingFactor { get; init; } = 1.0;
    /// <summary>Layers below this index use a dense MLP; the rest are MoE.</summary>
    public int FirstKDenseReplace { get; init; } = 0;
    public int MoeLayerFreq { get; init; } = 1;

    public bool IsMla => Family == ModelFamily.DeepseekV3;
    public int GqaHeadDim => HeadDim ?? HiddenSize / NumAttentionHeads;
    public bool HasQkvBias => Family == ModelFamily.Qwen2 || HasOutputBias;
    public bool HasOutputBias => (Family is ModelFamily.Llama or ModelFamily.Qwen3) && AttentionBias;
    /// <summary>Qwen3: an RMSNorm over each query and key head (weights q_norm, k_norm of head_dim), before RoPE.</summary>
    public bool HasQkNorm => Family == ModelFamily.Qwen3;
    public bool IsMoeLayer(int layer) =>
        Family == ModelFamily.DeepseekV3 && NRoutedExperts > 0 && layer >= FirstKDenseReplace && layer % MoeLayerFreq == 0;

    public static string TypeName(ModelFamily family) => family switch
    {
        ModelFamily.Llama => "llama",
        ModelFamily.Qwen2 => "qwen2",
        ModelFamily.Qwen3 => "qwen3",
        _ => "deepseek_v3",
    };

    public static ModelFamily ParseFamily(string name, string source) => name switch
    {
        "llama" => ModelFamily.Llama,
        "qwen2" => ModelFamily.Qwen2,
        "qwen3" => ModelFamily.Qwen3,
        "deepseek_v3" => ModelFamily.DeepseekV3,
        _ => throw new R1Error($"{source}: model_type '{name}' is not supported (expected llama, qwen2, qwen3 or deepseek_v3)"),
    };

    /// <summary>Checks the numbers fit together; throws an R1Error naming the field.</summary>
    public ModelConfig Validate(string source = "config")
    {
        void Positive(string field, long value)
        {
            if (value <= 0) throw new R1Error($"{source}: '{field}' must be positive, got {value}");
        }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        if (!IsMla)
        {
            Positive("num_key_value_heads", NumKeyValueHeads);
            if (HeadDim is int headDim) Positive("head_dim", headDim);
            if (NumAttentionHeads % NumKeyValueHeads != 0)
                throw new R1Error($"{source}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
            if (HeadDim is null && HiddenSize % NumAttentionHeads != 0)
                throw new R1Error($"{source}: hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumAttentionHeads})");
            if (GqaHeadDim % 2 != 0) throw new R1Error($"{source}: head_dim ({GqaHeadDim}) must be even for RoPE");
        }
        else
        {
            Positive("kv_lora_rank", KvLoraRank);
            Positive("qk_nope_head_dim", QkNopeHeadDim);
            Positive("qk_rope_head_dim", QkRopeHeadDim);
            Positive("v_head_dim", VHeadDim);
            if (QkRopeHeadDim % 2 != 0) throw new R1Error($"{source}: qk_rope_head_dim ({QkRopeHeadDim}) must be even");
            if (NRoutedExperts > 0)
            {
                Positive("num_experts_per_tok", NumExpertsPerTok);
                Positive("moe_intermediate_size", MoeIntermediateSize);
                Positive("n_group", NGroup);
                if (NRoutedExperts % NGroup != 0)
                    throw new R1Error($"{source}: n_routed_experts ({NRoutedExperts}) must be a multiple of n_group ({NGroup})");
                if (TopkGroup < 1 || TopkGroup > NGroup)
                    throw new R1Error($"{source}: topk_group ({TopkGroup}) must be between 1 and n_group ({NGroup})");
                if (NumExpertsPerTok > TopkGroup * (NRoutedExperts / NGroup))
                    throw new R1Error($"{source}: num_experts_per_tok ({NumExpertsPerTok}) exceeds the experts in topk_group groups");
                if (ScoringFunc is not ("sigmoid" or "softmax"))
                    throw new R1Error($"{source}: scoring_func '{ScoringFunc}' is not supported (sigmoid or softmax)");
            }
        }
        return this;
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new R1Error($"{path}: config.json not found");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new R1Error($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: invalid JSON: {e.Message}");
        }
        return FromJson(json, path);
    }

    public static ModelConfig FromJson(JsonObject json, string source)
    {
        var r = new JsonFields(json, source);
        var family = ParseFamily(r.String("model_type", null) ?? throw new R1Error($"{source}: missing field 'model_type'"), source);
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        int layers = r.Int("num_hidden_layers");
        if (family is ModelFamily.Qwen2 or ModelFamily.Qwen3) CheckNoSlidingWindow(json, r, layers, source);
        // transformers 5 moves rope_theta into rope_parameters.
        var ropeParameters = json["rope_parameters"] as JsonObject;
        double ropeTheta = r.Double("rope_theta", ropeParameters is null ? 10000.0 : new JsonFields(ropeParameters, source + " rope_parameters").Double("rope_theta", 10000.0));
        var config = new ModelConfig
        {
            Family = family,
            VocabSize = r.Int("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = r.Int("intermediate_size"),
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = r.OptionalInt("num_key_value_heads") ?? heads,
            // HF's Qwen3Config defaults head_dim to 128 rather than hidden / heads.
            HeadDim = family == ModelFamily.DeepseekV3 ? null : r.OptionalInt("head_dim") ?? (family == ModelFamily.Qwen3 ? 128 : null),
            MaxPositionEmbeddings = r.OptionalInt("max_position_embeddings") ?? 2048,
            RmsNormEps = r.Double("rms_norm_eps", 1e-6),
            RopeTheta = ropeTheta,
            RopeScaling = RopeScaling.FromJson(json["rope_scaling"] ?? json["rope_parameters"], source),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            AttentionBias = r.Bool("attention_bias", false),
            InitializerRange = r.Double("initializer_range", 0.02),
            BosTokenId = r.OptionalInt("bos_token_id"),
            EosTokenIds = r.IntOrIntArray("eos_token_id"),
            PadTokenId = r.OptionalInt("pad_token_id"),
            TorchDtype = r.String("torch_dtype", "float32")!,
            QLoraRank = r.OptionalInt("q_lora_rank"),
            KvLoraRank = r.OptionalInt("kv_lora_rank") ?? 512,
            QkNopeHeadDim = r.OptionalInt("qk_nope_head_dim") ?? 128,
            QkRopeHeadDim = r.OptionalInt("qk_rope_head_dim") ?? 64,
            VHeadDim = r.OptionalInt("v_head_dim") ?? 128,
            RopeInterleave = r.Bool("rope_interleave", true),
            NRoutedExperts = r.OptionalInt("n_routed_experts") ?? 0,
            NSharedExperts = r.OptionalInt("n_shared_experts") ?? 0,
            NumExpertsPerTok = r.OptionalInt("num_experts_per_tok") ?? 0,
            MoeIntermediateSize = r.OptionalInt("moe_intermediate_size") ?? 0,
            ScoringFunc = r.String("scoring_func", "sigmoid")!,
            NGroup = r.OptionalInt("n_group") ?? 1,
            TopkGroup = r.OptionalInt("topk_group") ?? 1,
            NormTopkProb = r.Bool("norm_topk_prob", true),
            RoutedScalingFactor = r.Double("routed_scaling_factor", 1.0),
            FirstKDenseReplace = r.OptionalInt("first_k_dense_replace") ?? 0,
            MoeLayerFreq = r.OptionalInt("moe_layer_freq") ?? 1,
        };
        return config.Validate(source);
    }

    /// <summary>
    /// Qwen2/Qwen3 configs carry sliding-window fields that their released models leave off (<c>use_sliding_window</c>
    /// false). HF makes layers from <c>max_window_layers</c> on sliding when it is on; R1Sharp attends to the whole
    /// context, so such a config is refused rather than run differently.
    /// </summary>
    static void CheckNoSlidingWindow(JsonObject json, JsonFields r, int layers, string source)
    {
        if (json["layer_types"] is JsonArray types)
        {
            for (int i = 0; i < types.Count; i++)
                if (types[i] is not JsonValue v || !v.TryGetValue(out string? type) || type != "full_attention")
                    throw new R1Error($"{source}: layer_types[{i}] is {types[i]?.ToJsonString() ?? "null"}; only \"full_attention\" layers are supported (no sliding-window attention)");
            return;
        }
        bool sliding = r.Bool("use_sliding_window", false) && r.OptionalInt("sliding_window") is not null
                       && (r.OptionalInt("max_window_layers") ?? 28) < layers;
        if (sliding)
            throw new R1Error($"{source}: use_sliding_window is true, which makes layers from max_window_layers on sliding-window layers; sliding-window attention is not supported");
    }

    /// <summary>The HF config.json object for this family (only the keys HF's config class has).</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Family switch
            {
                ModelFamily.Llama => "LlamaForCausalLM",
                ModelFamily.Qwen2 => "Qwen2ForCausalLM",
                ModelFamily.Qwen3 => "Qwen3ForCausalLM",
                _ => "DeepseekV3ForCausalLM",
            }),
            ["model_type"] = TypeName(Family),
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = RopeScaling?.ToJson(),
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["initializer_range"] = InitializerRange,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Length == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(i => (JsonNode?)i).ToArray()),
            ["torch_dtype"] = TorchDtype,
            ["use_cache"] = true,
        };
        if (PadTokenId is int pad) json["pad_token_id"] = pad;
        if (HeadDim is int headDim) json["head_dim"] = headDim;
        switch (Family)
        {
            case ModelFamily.Llama:
                json["attention_bias"] = AttentionBias;
                json["mlp_bias"] = false;
                break;
            case ModelFamily.Qwen2:
                json["use_sliding_window"] = false;
                break;
            case ModelFamily.Qwen3:
                // Always written: a reader's default head_dim for qwen3 is 128, not hidden / heads.
                json["head_dim"] = GqaHeadDim;
                json["attention_bias"] = AttentionBias;
                json["use_sliding_window"] = false;
                json["sliding_window"] = null;
                json["max_window_layers"] = NumHiddenLayers;
                break;
            case ModelFamily.DeepseekV3:
                json["attention_bias"] = false;
                json["q_lora_rank"] = QLoraRank is > 0 ? QLoraRank : null;
                json["kv_lora_rank"] = KvLoraRank;
                json["qk_nope_head_dim"] = QkNopeHeadDim;
                json["qk_rope_head_dim"] = QkRopeHeadDim;
                json["v_head_dim"] = VHeadDim;
                json["rope_interleave"] = RopeInterleave;
                json["n_routed_experts"] = NRoutedExperts;
                json["n_shared_experts"] = NSharedExperts;
                json["num_experts_per_tok"] = NumExpertsPerTok;
                json["moe_intermediate_size"] = MoeIntermediateSize;
                json["scoring_func"] = ScoringFunc;
                json["topk_method"] = "noaux_tc";
                json["n_group"] = NGroup;
                json["topk_group"] = TopkGroup;
                json["norm_topk_prob"] = NormTopkProb;
                json["routed_scaling_factor"] = RoutedScalingFactor;
                json["first_k_dense_replace"] = FirstKDenseReplace;
                json["moe_layer_freq"] = MoeLayerFreq;
                break;
        }
        return json;
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}
