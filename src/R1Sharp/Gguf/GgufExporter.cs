using System.Runtime.InteropServices;
using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Gguf;

/// <summary>Element type of the exported matrices; vectors (norms, biases) stay F32 as llama.cpp's converter keeps them.</summary>
public enum GgufDType { F32, F16 }

/// <summary>
/// Writes a model and its tokenizer as a GGUF file llama.cpp runs as is, following llama.cpp's
/// convert_hf_to_gguf.py: llama.cpp tensor names, hyper-parameter keys, tokenizer keys and the chat template.
/// </summary>
public static class GgufExporter
{
    public static void Export(CausalLanguageModel model, string tokenizerJsonPath, string? tokenizerConfigPath, string outPath, GgufDType dtype)
    {
        var c = model.Config;
        string arch = c.Family switch
        {
            ModelFamily.Llama => "llama",
            ModelFamily.Qwen2 => "qwen2",
            _ => throw new R1Error($"GGUF export supports the llama and qwen2 families, not {ModelConfig.TypeName(c.Family)}"),
        };
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.String(arch));
        writer.Add("general.name", GgufValue.String(Path.GetFileNameWithoutExtension(outPath)));
        writer.Add("general.file_type", GgufValue.U32(dtype == GgufDType.F16 ? 1u : 0u)); // LlamaFileType ALL_F32 / MOSTLY_F16
        foreach (var (key, value) in HyperParameters(c, arch)) writer.Add(key, value);
        foreach (var (key, value) in GgufTokenizerMetadata.Build(tokenizerJsonPath, tokenizerConfigPath, c.VocabSize,
                     c.BosTokenId, c.EosTokenIds.Length > 0 ? c.EosTokenIds[0] : null, c.PadTokenId))
            writer.Add(key, value);

        if (RopeFrequencyFactors(c) is float[] factors)
            writer.AddTensor("rope_freqs.weight", [factors.Length], GgmlType.F32, () => MemoryMarshal.AsBytes(factors.AsSpan()).ToArray());
        foreach (var (hfName, tensor) in model.HfStateDict())
        {
            var (name, rows) = GgufName(hfName, c);
            // Llama's HF checkpoints rotate halves of each head; llama.cpp's "llama" rotates adjacent pairs.
            Func<Tensor, Tensor> layout = rows is int heads ? t => PermuteRotaryRows(t, heads) : t => t;
            var type = tensor.dim() == 1 || dtype == GgufDType.F32 ? GgmlType.F32 : GgmlType.F16;
            writer.AddTensor(name, tensor.shape, type, () => TensorBytes(layout(tensor), type));
        }
        writer.Write(outPath);
    }

    static List<(string, GgufValue)> HyperParameters(ModelConfig c, string arch)
    {
        if (c.RopeScaling is { Type: not "llama3" } || (c.RopeScaling is not null && c.Family != ModelFamily.Llama))
            throw new R1Error($"GGUF export: rope_scaling '{c.RopeScaling.Type}' is not supported for {arch} (only llama3 scaling on llama)");
        uint headDim = (uint)c.GqaHeadDim;
        return
        [
            ($"{arch}.vocab_size", GgufValue.U32((uint)c.VocabSize)),
            ($"{arch}.context_length", GgufValue.U32((uint)c.MaxPositionEmbeddings)),
            ($"{arch}.embedding_length", GgufValue.U32((uint)c.HiddenSize)),
            ($"{arch}.feed_forward_length", GgufValue.U32((uint)c.IntermediateSize)),
            ($"{arch}.block_count", GgufValue.U32((uint)c.NumHiddenLayers)),
            ($"{arch}.attention.head_count", GgufValue.U32((uint)c.NumAttentionHeads)),
            ($"{arch}.attention.head_count_kv", GgufValue.U32((uint)c.NumKeyValueHeads)),
            ($"{arch}.attention.key_length", GgufValue.U32(headDim)),
            ($"{arch}.attention.value_length", GgufValue.U32(headDim)),
            ($"{arch}.attention.layer_norm_rms_epsilon", GgufValue.F32((float)c.RmsNormEps)),
            ($"{arch}.rope.dimension_count", GgufValue.U32(headDim)),
            ($"{arch}.rope.freq_base", GgufValue.F32((float)c.RopeTheta)),
        ];
    }

    /// <summary>
    /// Llama-3.1 rope scaling as llama.cpp applies it: each pair's frequency is divided by a factor stored in
    /// the rope_freqs tensor, here the unscaled over the scaled frequency.
    /// </summary>
    static float[]? RopeFrequencyFactors(ModelConfig c)
    {
        if (c.RopeScaling is null) return null;
        var plain = RotaryEmbedding.InverseFrequencies(c.GqaHeadDim, c.RopeTheta, null, out _);
        var scaled = RotaryEmbedding.InverseFrequencies(c.GqaHeadDim, c.RopeTheta, c.RopeScaling, out _);
        return plain.Select((f, i) => (float)(f / scaled[i])).ToArray();
    }

    /// <summary>The llama.cpp name of an HF tensor, and the head count to permute its rows by (llama q/k only).</summary>
    static (string Name, int? PermuteHeads) GgufName(string hfName, ModelConfig c)
    {
        switch (hfName)
        {
            case "model.embed_tokens.weight": return ("token_embd.weight", null);
            case "model.norm.weight": return ("output_norm.weight", null);
            case "lm_head.weight": return ("output.weight", null);
        }
        var parts = hfName.Split('.');
        if (parts.Length >= 5 && parts[0] == "model" && parts[1] == "layers" && int.TryParse(parts[2], out int layer))
        {
            string module = string.Join('.', parts[3..^1]), kind = parts[^1];
            bool llama = c.Family == ModelFamily.Llama;
            (string Base, int? Heads)? mapped = module switch
            {
                "input_layernorm" => ("attn_norm", null),
                "self_attn.q_proj" => ("attn_q", llama ? c.NumAttentionHeads : null),
                "self_attn.k_proj" => ("attn_k", llama ? c.NumKeyValueHeads : null),
                "self_attn.v_proj" => ("attn_v", null),
                "self_attn.o_proj" => ("attn_output", null),
                "post_attention_layernorm" => ("ffn_norm", null),
                "mlp.gate_proj" => ("ffn_gate", null),
                "mlp.up_proj" => ("ffn_up", null),
                "mlp.down_proj" => ("ffn_down", null),
                _ => null,
            };
            if (mapped is var (b, heads) && kind is "weight" or "bias") return ($"blk.{layer}.{b}.{kind}", heads);
        }
        throw new R1Error($"GGUF export: tensor '{hfName}' has no llama.cpp equivalent");
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

    static byte[] TensorBytes(Tensor tensor, GgmlType type)
    {
        using var scope = NewDisposeScope();
        float[] values = tensor.detach().to(float32).cpu().contiguous().data<float>().ToArray();
        if (type == GgmlType.F32) return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var halves = new Half[values.Length];
        for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }
}
