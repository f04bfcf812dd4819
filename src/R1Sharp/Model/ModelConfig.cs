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

    // Upper bounds, each far above any published model (DeepSeek-V3: vocab 129,280, hidden 7,168, 61 layers,
    // 256 experts), so a hostile or mistyped config.json is refused before anything is sized from it.
    const int MaxVocab = 1 << 22, MaxHidden = 1 << 16, MaxIntermediate = 1 << 20, MaxLayers = 1 << 10, MaxHeads = 1 << 10,
        MaxHeadDim = 1 << 12, MaxPositions = 1 << 24, MaxRank = 1 << 16, MaxExperts = 1 << 12, MaxSharedExperts = 1 << 6;
    /// <summary>Routed experts over all layers: each is three tensors, so this bounds the checkpoint's tensor count.</summary>
    const long MaxTotalExperts = 1 << 17;
    /// <summary>Values of the rotary cos/sin tables (positions × rotary pairs), which are computed when a model is built.</summary>
    const long MaxRotaryValues = 1L << 28;

    /// <summary>
    /// Checks every number is in range and that they fit together; throws an R1Error naming the field and value.
    /// Run before anything is allocated from the config (building a model, or checking its weights).
    /// </summary>
    public ModelConfig Validate(string source = "config")
    {
        void InRange(string field, long value, long min, long max)
        {
            if (value < min) throw new R1Error($"{source}: '{field}' must be {(min == 1 ? "positive" : $"at least {min}")}, got {value}");
            if (value > max) throw new R1Error($"{source}: '{field}' is {value}, over the {max:N0} R1Sharp accepts");
        }
        void Finite(string field, double value, double above, double max = double.MaxValue)
        {
            if (!double.IsFinite(value) || value <= above || value > max)
                throw new R1Error($"{source}: '{field}' must be a finite number above {above}{(max < double.MaxValue ? $" and at most {max}" : "")}, got {value}");
        }
        void NotNegative(string field, double value)
        {
            if (!double.IsFinite(value) || value < 0) throw new R1Error($"{source}: '{field}' must be a finite number of at least 0, got {value}");
        }
        InRange("vocab_size", VocabSize, 1, MaxVocab);
        InRange("hidden_size", HiddenSize, 1, MaxHidden);
        InRange("intermediate_size", IntermediateSize, 1, MaxIntermediate);
        InRange("num_hidden_layers", NumHiddenLayers, 1, MaxLayers);
        InRange("num_attention_heads", NumAttentionHeads, 1, MaxHeads);
        InRange("max_position_embeddings", MaxPositionEmbeddings, 1, MaxPositions);
        Finite("rms_norm_eps", RmsNormEps, above: 0, max: 1);
        // theta^(2i/d) spreads the rotary frequencies; at 1 or below they collapse or blow up.
        Finite("rope_theta", RopeTheta, above: 1);
        NotNegative("initializer_range", InitializerRange);
        if (RopeScaling is { } scaling)
        {
            Finite("rope_scaling.factor", scaling.Factor, above: 0);
            InRange("rope_scaling.original_max_position_embeddings", scaling.OriginalMaxPositionEmbeddings, 1, MaxPositions);
            if (scaling.Type == "yarn")
            {
                Finite("rope_scaling.beta_fast", scaling.BetaFast, above: 0);
                Finite("rope_scaling.beta_slow", scaling.BetaSlow, above: 0);
                NotNegative("rope_scaling.mscale_all_dim", scaling.MscaleAllDim);
                Finite("rope_scaling.attn_factor", scaling.AttnFactor, above: 0);
                if (scaling.AttentionFactor is double attention) Finite("rope_scaling.attention_factor", attention, above: 0);
            }
            else
            {
                // llama3 interpolates between the two wavelengths: the band must not be empty.
                Finite("rope_scaling.low_freq_factor", scaling.LowFreqFactor, above: 0);
                Finite("rope_scaling.high_freq_factor", scaling.HighFreqFactor, above: scaling.LowFreqFactor);
            }
        }
        int rotaryDim;
        if (!IsMla)
        {
            InRange("num_key_value_heads", NumKeyValueHeads, 1, NumAttentionHeads);
            if (NumAttentionHeads % NumKeyValueHeads != 0)
                throw new R1Error($"{source}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
            if (HeadDim is int headDim) InRange("head_dim", headDim, 1, MaxHeadDim);
            else if (HiddenSize % NumAttentionHeads != 0)
                throw new R1Error($"{source}: hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumAttentionHeads})");
            if (GqaHeadDim % 2 != 0) throw new R1Error($"{source}: head_dim ({GqaHeadDim}) must be even for RoPE");
            rotaryDim = GqaHeadDim;
        }
        else
        {
            if (QLoraRank is int qRank and not 0) InRange("q_lora_rank", qRank, 1, MaxRank);
            InRange("kv_lora_rank", KvLoraRank, 1, MaxRank);
            InRange("qk_nope_head_dim", QkNopeHeadDim, 1, MaxHeadDim);
            InRange("qk_rope_head_dim", QkRopeHeadDim, 1, MaxHeadDim);
            InRange("v_head_dim", VHeadDim, 1, MaxHeadDim);
            if (QkRopeHeadDim % 2 != 0) throw new R1Error($"{source}: qk_rope_head_dim ({QkRopeHeadDim}) must be even");
            InRange("n_routed_experts", NRoutedExperts, 0, MaxExperts);
            InRange("n_shared_experts", NSharedExperts, 0, MaxSharedExperts);
            InRange("first_k_dense_replace", FirstKDenseReplace, 0, MaxLayers);
            InRange("moe_layer_freq", MoeLayerFreq, 1, MaxLayers);
            if (NRoutedExperts > 0)
            {
                InRange("num_experts_per_tok", NumExpertsPerTok, 1, NRoutedExperts);
                InRange("moe_intermediate_size", MoeIntermediateSize, 1, MaxIntermediate);
                InRange("n_group", NGroup, 1, NRoutedExperts);
                if (NRoutedExperts % NGroup != 0)
                    throw new R1Error($"{source}: n_routed_experts ({NRoutedExperts}) must be a multiple of n_group ({NGroup})");
                if (TopkGroup < 1 || TopkGroup > NGroup)
                    throw new R1Error($"{source}: topk_group ({TopkGroup}) must be between 1 and n_group ({NGroup})");
                if (NumExpertsPerTok > TopkGroup * (NRoutedExperts / NGroup))
                    throw new R1Error($"{source}: num_experts_per_tok ({NumExpertsPerTok}) exceeds the experts in topk_group groups");
                if (ScoringFunc is not ("sigmoid" or "softmax"))
                    throw new R1Error($"{source}: scoring_func '{ScoringFunc}' is not supported (sigmoid or softmax)");
                Finite("routed_scaling_factor", RoutedScalingFactor, above: 0);
                long totalExperts = (long)Enumerable.Range(0, NumHiddenLayers).Count(IsMoeLayer) * NRoutedExperts;
                if (totalExperts > MaxTotalExperts)
                    throw new R1Error($"{source}: {totalExperts:N0} routed experts over all layers (n_routed_experts {NRoutedExperts}), over the {MaxTotalExperts:N0} R1Sharp accepts");
            }
            rotaryDim = QkRopeHeadDim;
        }
        if ((long)MaxPositionEmbeddings * (rotaryDim / 2) > MaxRotaryValues)
            throw new R1Error($"{source}: max_position_embeddings ({MaxPositionEmbeddings:N0}) × rotary dim / 2 ({rotaryDim / 2}) is over the "
                              + $"{MaxRotaryValues:N0} rotary-table values R1Sharp precomputes; lower max_position_embeddings");
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
