using System.Text.RegularExpressions;
using R1Sharp.Model;

namespace R1Sharp.Gguf;

/// <summary>
/// llama.cpp's names for R1Sharp's families and (Hugging Face-named) tensors, as convert_hf_to_gguf.py writes them:
/// one table that the exporter reads forwards and a GGUF reader reads backwards. Tensors that are not renamed one to
/// one are named here too and described where they are built (<see cref="GgufExporter"/>): a layer's experts stacked
/// into one tensor, DeepSeek's kv_b_proj split per head, and Llama's q/k rows permuted to adjacent rotary pairs
/// (<see cref="GgufExporter.PermuteRotaryRows"/>).
/// </summary>
public static partial class GgufNames
{
    /// <summary>llama.cpp's <c>general.architecture</c> for each family; deepseek_v3 is its "deepseek2" (MLA + MoE).</summary>
    public static readonly IReadOnlyDictionary<ModelFamily, string> Architectures = new Dictionary<ModelFamily, string>
    {
        [ModelFamily.Llama] = "llama",
        [ModelFamily.Qwen2] = "qwen2",
        [ModelFamily.Qwen3] = "qwen3",
        [ModelFamily.DeepseekV3] = "deepseek2",
    };

    /// <summary>Tensors outside the layers: HF name → GGUF name.</summary>
    public static readonly IReadOnlyDictionary<string, string> ModelTensors = new Dictionary<string, string>
    {
        ["model.embed_tokens.weight"] = "token_embd.weight",
        ["model.norm.weight"] = "output_norm.weight",
        ["lm_head.weight"] = "output.weight",
    };

    /// <summary>
    /// A decoder layer's modules renamed one to one: <c>model.layers.N.{HF module}.{weight|bias}</c> ↔
    /// <c>blk.N.{GGUF name}.{weight|bias}</c>.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> LayerModules = new Dictionary<string, string>
    {
        ["input_layernorm"] = "attn_norm",
        ["post_attention_layernorm"] = "ffn_norm",
        ["self_attn.q_proj"] = "attn_q",
        ["self_attn.k_proj"] = "attn_k",
        ["self_attn.v_proj"] = "attn_v",
        ["self_attn.o_proj"] = "attn_output",
        ["self_attn.q_norm"] = "attn_q_norm",
        ["self_attn.k_norm"] = "attn_k_norm",
        ["self_attn.q_a_proj"] = "attn_q_a",
        ["self_attn.q_a_layernorm"] = "attn_q_a_norm",
        ["self_attn.q_b_proj"] = "attn_q_b",
        ["self_attn.kv_a_proj_with_mqa"] = "attn_kv_a_mqa",
        ["self_attn.kv_a_layernorm"] = "attn_kv_a_norm",
        ["mlp.gate_proj"] = "ffn_gate",
        ["mlp.up_proj"] = "ffn_up",
        ["mlp.down_proj"] = "ffn_down",
        ["mlp.gate"] = "ffn_gate_inp",
        ["mlp.shared_experts.gate_proj"] = "ffn_gate_shexp",
        ["mlp.shared_experts.up_proj"] = "ffn_up_shexp",
        ["mlp.shared_experts.down_proj"] = "ffn_down_shexp",
    };

    /// <summary>The inverse of <see cref="LayerModules"/>: GGUF name → HF module.</summary>
    public static readonly IReadOnlyDictionary<string, string> HfLayerModules = LayerModules.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>Llama-3.1 rope scaling's per-pair frequency divisors (no HF tensor: computed from rope_scaling).</summary>
    public const string RopeFrequencies = "rope_freqs.weight";

    /// <summary>A layer's routed experts as one [experts, out, in] tensor: <c>blk.N.ffn_{gate|up|down}_exps.weight</c>.</summary>
    public static string Experts(int layer, string projection) => $"blk.{layer}.ffn_{projection}_exps.weight";

    /// <summary>DeepSeek's kv_b_proj, split per head into the key part (transposed) and the value part.</summary>
    public static (string Keys, string Values) KvB(int layer) => ($"blk.{layer}.attn_k_b.weight", $"blk.{layer}.attn_v_b.weight");

    /// <summary>DeepSeek's router correction bias (HF <c>mlp.gate.e_score_correction_bias</c>).</summary>
    public static string ExpertProbabilityBias(int layer) => $"blk.{layer}.exp_probs_b.bias";

    /// <summary>HF <c>model.layers.N.{module}.{weight|bias|e_score_correction_bias}</c>.</summary>
    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)\.(weight|bias|e_score_correction_bias)$")]
    public static partial Regex HfLayerTensor();

    /// <summary>GGUF <c>blk.N.{name}.{weight|bias}</c>.</summary>
    [GeneratedRegex(@"^blk\.(\d+)\.(.+)\.(weight|bias)$")]
    public static partial Regex GgufLayerTensor();
}
