using System.Text.RegularExpressions;
using R1Sharp.Model;
using R1Sharp.Quantization;
using static TorchSharp.torch;

namespace R1Sharp.Gguf;

/// <summary>
/// Writes a model and its tokenizer as a GGUF file llama.cpp runs as is, following llama.cpp's
/// convert_hf_to_gguf.py: llama.cpp tensor names and layouts, hyper-parameter keys, tokenizer keys and the
/// chat template. Families: llama, qwen2, qwen3, and deepseek_v3 as llama.cpp's "deepseek2". Names come from
/// <see cref="GgufNames"/>.
/// </summary>
public static partial class GgufExporter
{
    /// <summary>One tensor of the file: its llama.cpp name, PyTorch-order shape, and how to compute its values.</summary>
    sealed record ExportTensor(string Name, long[] Shape, Func<Tensor> Values);

    public static void Export(CausalLanguageModel model, string tokenizerJsonPath, string? tokenizerConfigPath, string outPath, GgufDType dtype)
    {
        var c = model.Config;
        string arch = GgufNames.Architectures[c.Family];
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.String(arch));
        writer.Add("general.name", GgufValue.String(Path.GetFileNameWithoutExtension(outPath)));
        AddFileType(writer, dtype);
        foreach (var (key, value) in c.IsMla ? DeepSeekHyperParameters(c, arch) : GqaHyperParameters(c, arch)) writer.Add(key, value);
        foreach (var (key, value) in GgufTokenizerMetadata.Build(tokenizerJsonPath, tokenizerConfigPath, c.VocabSize,
                     c.BosTokenId, c.EosTokenIds.Length > 0 ? c.EosTokenIds[0] : null, c.PadTokenId))
            writer.Add(key, value);
        var tensors = Tensors(model.HfStateDict(), c).ToList();
        var types = QuantizationMix.Choose(dtype, tensors.Select(t => new QuantizationMix.Tensor(t.Name, t.Shape.Reverse().ToArray(), GgmlType.F32)).ToList(),
            c.NumHiddenLayers, c.IsMla ? c.NRoutedExperts : 0);
        foreach (var t in tensors)
        {
            var type = types[t.Name];
            writer.AddTensor(t.Name, t.Shape, type, () =>
            {
                using var scope = NewDisposeScope();
                float[] values = t.Values().detach().to(float32).cpu().contiguous().data<float>().ToArray();
                return GgmlQuants.QuantizeRows(type, values, (int)t.Shape[^1]);
            });
        }
        writer.Write(outPath);
    }

    /// <summary>general.file_type (llama.cpp's llama_ftype), and the block-format version llama.cpp checks in quantized files.</summary>
    internal static void AddFileType(GgufWriter writer, GgufDType dtype)
    {
        writer.Add("general.file_type", GgufValue.U32((uint)dtype));
        if (dtype is not (GgufDType.F32 or GgufDType.F16)) writer.Add("general.quantization_version", GgufValue.U32(2));
    }

    static List<(string, GgufValue)> GqaHyperParameters(ModelConfig c, string arch)
    {
        if (c.RopeScaling is { Type: not "llama3" } || (c.RopeScaling is not null && c.Family != ModelFamily.Llama))
            throw new R1Error($"GGUF export: rope_scaling '{c.RopeScaling.Type}' is not supported for {arch} (only llama3 scaling on llama)");
        if (c.Family == ModelFamily.Qwen3 && c.AttentionBias)
            throw new R1Error("GGUF export: llama.cpp's qwen3 has no attention biases; attention_bias true is not supported");
        uint headDim = (uint)c.GqaHeadDim;
        return
        [
            .. Common(c, arch, headCountKv: c.NumKeyValueHeads),
            ($"{arch}.attention.key_length", GgufValue.U32(headDim)),
            ($"{arch}.attention.value_length", GgufValue.U32(headDim)),
            ($"{arch}.rope.dimension_count", GgufValue.U32(headDim)),
        ];
    }

    static List<(string, GgufValue)> Common(ModelConfig c, string arch, int headCountKv) =>
    [
        ($"{arch}.vocab_size", GgufValue.U32((uint)c.VocabSize)),
        ($"{arch}.context_length", GgufValue.U32((uint)c.MaxPositionEmbeddings)),
        ($"{arch}.embedding_length", GgufValue.U32((uint)c.HiddenSize)),
        ($"{arch}.feed_forward_length", GgufValue.U32((uint)c.IntermediateSize)),
        ($"{arch}.block_count", GgufValue.U32((uint)c.NumHiddenLayers)),
        ($"{arch}.attention.head_count", GgufValue.U32((uint)c.NumAttentionHeads)),
        ($"{arch}.attention.head_count_kv", GgufValue.U32((uint)headCountKv)),
        ($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.F32((float)c.RmsNormEps)),
        ($"{arch}.rope.freq_base", GgufValue.F32((float)c.RopeTheta)),
    ];

    /// <summary>
    /// deepseek2 runs MLA as multi-query attention over the latent: one KV "head" of kv_lora_rank + rope dims,
    /// with the per-head up-projections (attn_k_b, attn_v_b) applied around it.
    /// </summary>
    static List<(string, GgufValue)> DeepSeekHyperParameters(ModelConfig c, string arch)
    {
        if (c.MoeLayerFreq != 1) throw new R1Error($"GGUF export: deepseek2 has no moe_layer_freq; {c.MoeLayerFreq} is not supported");
        if (c.QLoraRank is not > 0) throw new R1Error("GGUF export: llama.cpp's deepseek2 needs q_lora_rank (a plain q_proj loads only for DeepSeek-V2-Lite)");
        var kv = Common(c, arch, headCountKv: 1);
        kv.AddRange(
        [
            ($"{arch}.leading_dense_block_count", GgufValue.U32((uint)(c.NRoutedExperts > 0 ? c.FirstKDenseReplace : c.NumHiddenLayers))),
            ($"{arch}.attention.q_lora_rank", GgufValue.U32((uint)c.QLoraRank)),
            ($"{arch}.attention.kv_lora_rank", GgufValue.U32((uint)c.KvLoraRank)),
            ($"{arch}.attention.key_length", GgufValue.U32((uint)(c.KvLoraRank + c.QkRopeHeadDim))),
            ($"{arch}.attention.value_length", GgufValue.U32((uint)c.KvLoraRank)),
            ($"{arch}.attention.key_length_mla", GgufValue.U32((uint)(c.QkNopeHeadDim + c.QkRopeHeadDim))),
            ($"{arch}.attention.value_length_mla", GgufValue.U32((uint)c.VHeadDim)),
            ($"{arch}.rope.dimension_count", GgufValue.U32((uint)c.QkRopeHeadDim)),
            ($"{arch}.expert_feed_forward_length", GgufValue.U32((uint)(c.NRoutedExperts > 0 ? c.MoeIntermediateSize : c.IntermediateSize))),
            ($"{arch}.expert_shared_count", GgufValue.U32((uint)c.NSharedExperts)),
        ]);
        if (c.NRoutedExperts > 0)
        {
            kv.AddRange(
            [
                ($"{arch}.expert_count", GgufValue.U32((uint)c.NRoutedExperts)),
                ($"{arch}.expert_used_count", GgufValue.U32((uint)c.NumExpertsPerTok)),
                ($"{arch}.expert_weights_scale", GgufValue.F32((float)c.RoutedScalingFactor)),
                ($"{arch}.expert_weights_norm", GgufValue.Bool(c.NormTopkProb)),
                ($"{arch}.expert_gating_func", GgufValue.U32(c.ScoringFunc == "softmax" ? 1u : 2u)), // llama.cpp: 1 softmax, 2 sigmoid
                ($"{arch}.expert_group_count", GgufValue.U32((uint)c.NGroup)),
                ($"{arch}.expert_group_used_count", GgufValue.U32((uint)c.TopkGroup)),
            ]);
        }
        if (c.RopeScaling is { } yarn)
        {
            // llama.cpp's YaRN uses beta_fast 32 and beta_slow 1, DeepSeek-V3's values.
            if (yarn.Type != "yarn" || yarn.BetaFast != 32 || yarn.BetaSlow != 1)
                throw new R1Error($"GGUF export: deepseek2 supports yarn rope scaling with beta_fast 32 and beta_slow 1, got {yarn.Type} ({yarn.BetaFast}, {yarn.BetaSlow})");
            kv.AddRange(
            [
                ($"{arch}.rope.scaling.type", GgufValue.String("yarn")),
                ($"{arch}.rope.scaling.factor", GgufValue.F32((float)yarn.Factor)),
                ($"{arch}.rope.scaling.original_context_length", GgufValue.U32((uint)yarn.OriginalMaxPositionEmbeddings)),
                // llama.cpp's softmax scale is (1 + log_mul·ln factor)² / sqrt(d), as DeepSeek's mscale_all_dim gives.
                ($"{arch}.rope.scaling.yarn_log_multiplier", GgufValue.F32((float)(0.1 * yarn.MscaleAllDim))),
            ]);
        }
        return kv;
    }

    [GeneratedRegex(@"^mlp\.experts\.(\d+)\.(gate|up|down)_proj$")]
    private static partial Regex ExpertModule();

    static IEnumerable<ExportTensor> Tensors(Dictionary<string, Tensor> hf, ModelConfig c)
    {
        if (RopeFrequencyFactors(c) is float[] factors) yield return new(GgufNames.RopeFrequencies, [factors.Length], () => tensor(factors));
        foreach (var (hfName, weight) in hf)
        {
            if (GgufNames.ModelTensors.TryGetValue(hfName, out string? whole))
            {
                yield return new(whole, weight.shape, () => weight);
                continue;
            }
            var m = GgufNames.HfLayerTensor().Match(hfName);
            if (!m.Success) throw new R1Error($"GGUF export: tensor '{hfName}' has no llama.cpp equivalent");
            int layer = int.Parse(m.Groups[1].Value);
            string blk = $"blk.{layer}", module = m.Groups[2].Value, kind = m.Groups[3].Value;

            if (ExpertModule().Match(module) is { Success: true } expert)
            {
                // llama.cpp holds a layer's experts as one [experts, out, in] tensor; emit it once, at expert 0.
                if (expert.Groups[1].Value != "0") continue;
                string proj = expert.Groups[2].Value;
                var parts = Enumerable.Range(0, c.NRoutedExperts).Select(e => hf[$"model.layers.{m.Groups[1].Value}.mlp.experts.{e}.{proj}_proj.weight"]).ToArray();
                yield return new(GgufNames.Experts(layer, proj), [parts.Length, .. weight.shape], () => stack(parts));
            }
            else if (module == "self_attn.kv_b_proj")
            {
                // Split per head into the key part (transposed, to absorb into the query) and the value part.
                long rank = weight.shape[1];
                Tensor PerHead() => weight.view(c.NumAttentionHeads, c.QkNopeHeadDim + c.VHeadDim, rank);
                var (keys, values) = GgufNames.KvB(layer);
                yield return new(keys, [c.NumAttentionHeads, rank, c.QkNopeHeadDim], () => PerHead().narrow(1, 0, c.QkNopeHeadDim).transpose(1, 2));
                yield return new(values, [c.NumAttentionHeads, c.VHeadDim, rank], () => PerHead().narrow(1, c.QkNopeHeadDim, c.VHeadDim));
            }
            else if (kind == "e_score_correction_bias" && module == "mlp.gate")
            {
                yield return new(GgufNames.ExpertProbabilityBias(layer), weight.shape, () => weight);
            }
            else if (GgufNames.LayerModules.TryGetValue(module, out string? name) && kind is "weight" or "bias")
            {
                // Llama's HF checkpoints rotate halves of each head; llama.cpp's "llama" rotates adjacent pairs.
                int? heads = c.Family != ModelFamily.Llama ? null : name switch
                {
                    "attn_q" => c.NumAttentionHeads,
                    "attn_k" => c.NumKeyValueHeads,
                    _ => null,
                };
                Func<Tensor> values = heads is int h ? () => PermuteRotaryRows(weight, h) : () => weight;
                // The router stays F32 (QuantizationMix, as llama.cpp keeps it): expert choice is sensitive to rounding.
                yield return new($"{blk}.{name}.{kind}", weight.shape, values);
            }
            else
            {
                throw new R1Error($"GGUF export: tensor '{hfName}' has no llama.cpp equivalent");
            }
        }
    }

    /// <summary>
    /// Llama-3.1 rope scaling as llama.cpp applies it: each pair's frequency is divided by a factor stored in
    /// the rope_freqs tensor, here the unscaled over the scaled frequency.
    /// </summary>
    static float[]? RopeFrequencyFactors(ModelConfig c)
    {
        if (c.RopeScaling is not { Type: "llama3" } || c.IsMla) return null;
        var plain = RotaryEmbedding.InverseFrequencies(c.GqaHeadDim, c.RopeTheta, null, out _);
        var scaled = RotaryEmbedding.InverseFrequencies(c.GqaHeadDim, c.RopeTheta, c.RopeScaling, out _);
        return plain.Select((f, i) => (float)(f / scaled[i])).ToArray();
    }

    /// <summary>
    /// Reorders each head's rows from rotate-half order (x0..x[d/2-1], then their partners) to adjacent pairs,
    /// as convert_hf_to_gguf.py's permute: [heads, 2, d/2, ...] with axes 1 and 2 swapped.
    /// </summary>
    public static Tensor PermuteRotaryRows(Tensor weight, int heads)
    {
        long rows = weight.shape[0];
        long[] split = [heads, 2, rows / heads / 2, .. weight.shape[1..]];
        return weight.reshape(split).transpose(1, 2).reshape(weight.shape);
    }
}
