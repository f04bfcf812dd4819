using System.Text.RegularExpressions;

namespace R1Sharp.Gguf;

/// <summary>
/// The file types R1Sharp writes, numbered as llama.cpp's <c>llama_ftype</c> (the value of <c>general.file_type</c>).
/// Q4_K_M and Q5_K_M are mixes: most matrices in the K-quant, the sensitive ones in Q6_K (<see cref="QuantizationMix"/>).
/// </summary>
public enum GgufDType { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 7, Q4_K_M = 15, Q5_K_M = 17, Q6_K = 18 }

/// <summary>
/// Which ggml type each tensor of a file gets, as llama.cpp's llama-quantize chooses it without an importance matrix
/// (src/llama-quant.cpp), so a Q4_K_M file of ours has the tensor types llama.cpp's own Q4_K_M file has:
/// <list type="bullet">
/// <item>Vectors, norms, biases and the MoE router (<c>ffn_gate_inp</c>) keep their type.</item>
/// <item><c>output</c> (and <c>token_embd</c> when the embedding is tied): Q6_K unless the file is Q8_0 (then Q8_0);
/// Q8_0 when its rows are not whole 256-blocks.</item>
/// <item>Q4_K_M and Q5_K_M: <c>attn_v</c> (and <c>attn_kv_b</c>, <c>attn_qkv</c>) and <c>ffn_down</c> in Q6_K on the
/// first and last eighth of the layers and every third layer between; with exactly 8 experts, attn_v and attn_k in
/// Q8_0 and (Q4_K_M) attn_output in Q5_K.</item>
/// <item>Rows that are not whole blocks fall back: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, and to F16 when even 32 does
/// not divide them.</item>
/// </list>
/// </summary>
public static partial class QuantizationMix
{
    /// <summary>Parses the names the CLI takes: f32, f16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k.</summary>
    public static GgufDType Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "f32" => GgufDType.F32,
        "f16" => GgufDType.F16,
        "q8_0" => GgufDType.Q8_0,
        "q4_0" => GgufDType.Q4_0,
        "q4_k_m" => GgufDType.Q4_K_M,
        "q5_k_m" => GgufDType.Q5_K_M,
        "q6_k" => GgufDType.Q6_K,
        _ => throw new R1Error($"unknown GGUF type '{text}' (expected f32, f16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k)"),
    };

    public static string Name(GgufDType type) => type.ToString().ToLowerInvariant();

    /// <summary>The ggml type most matrices of a file of <paramref name="fileType"/> get.</summary>
    public static GgmlType DefaultType(GgufDType fileType) => fileType switch
    {
        GgufDType.F32 => GgmlType.F32,
        GgufDType.F16 => GgmlType.F16,
        GgufDType.Q4_0 => GgmlType.Q4_0,
        GgufDType.Q8_0 => GgmlType.Q8_0,
        GgufDType.Q4_K_M => GgmlType.Q4_K,
        GgufDType.Q5_K_M => GgmlType.Q5_K,
        _ => GgmlType.Q6_K,
    };

    /// <summary>One tensor as the mix sees it: its llama.cpp name, GGUF dims (innermost first) and current type.</summary>
    public sealed record Tensor(string Name, long[] Dims, GgmlType Type);

    [GeneratedRegex(@"^blk\.(\d+)\.")]
    private static partial Regex LayerPrefix();

    /// <summary>
    /// The type of every tensor in a file of <paramref name="fileType"/> for a model of <paramref name="layers"/> layers
    /// and <paramref name="experts"/> routed experts (0 for dense models).
    /// </summary>
    public static Dictionary<string, GgmlType> Choose(GgufDType fileType, IReadOnlyList<Tensor> tensors, int layers, int experts)
    {
        var chosen = new Dictionary<string, GgmlType>();
        var defaultType = DefaultType(fileType);
        bool quantized = fileType is not (GgufDType.F32 or GgufDType.F16);
        bool tied = tensors.All(t => t.Name != "output.weight");
        int attentionV = tensors.Count(t => IsAttentionV(t.Name)), attentionVSeen = 0, ffnDownSeen = 0;
        // llama.cpp walks the tensors by layer (non-layer tensors first), then by name; the counters follow that order.
        foreach (var t in tensors.OrderBy(t => LayerOf(t.Name)).ThenBy(t => t.Name, StringComparer.Ordinal))
        {
            if (!Quantizable(t))
            {
                chosen[t.Name] = t.Type;
                continue;
            }
            if (!quantized)
            {
                chosen[t.Name] = defaultType;
                continue;
            }
            var type = defaultType;
            bool kMix = fileType is GgufDType.Q4_K_M or GgufDType.Q5_K_M;
            if (t.Name == "output.weight" || (tied && t.Name == "token_embd.weight"))
            {
                if (t.Dims[0] % GgmlTypes.BlockSize(type) != 0) type = GgmlType.Q8_0;
                else if (type != GgmlType.Q8_0) type = GgmlType.Q6_K;
            }
            else if (t.Name == "token_embd.weight")
            {
                // the file's default type
            }
            else if (IsAttentionV(t.Name))
            {
                if (kMix && MoreBits(attentionVSeen, attentionV)) type = GgmlType.Q6_K;
                if (experts == 8) type = GgmlType.Q8_0;
                attentionVSeen++;
            }
            else if (t.Name.Contains("attn_k.weight"))
            {
                if (experts == 8) type = GgmlType.Q8_0;
            }
            else if (t.Name.Contains("ffn_down"))
            {
                // With experts llama.cpp reads the layer from the name (all of a layer's down projections agree).
                int layer = experts > 1 ? LayerOf(t.Name) : ffnDownSeen;
                if (kMix && MoreBits(layer, layers)) type = GgmlType.Q6_K;
                ffnDownSeen++;
            }
            else if (t.Name.Contains("attn_output.weight"))
            {
                if (experts == 8 && fileType == GgufDType.Q4_K_M) type = GgmlType.Q5_K;
            }
            chosen[t.Name] = Fallback(type, t);
        }
        return chosen;
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.</summary>
    static bool MoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    static bool IsAttentionV(string name) => name.Contains("attn_v.weight") || name.Contains("attn_qkv.weight") || name.Contains("attn_kv_b.weight");

    static int LayerOf(string name) => LayerPrefix().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;

    /// <summary>Matrices (2-d and 3-d) named *weight, except norms and the MoE router, as llama.cpp quantizes.</summary>
    static bool Quantizable(Tensor t) =>
        t.Dims.Length >= 2 && t.Name.EndsWith("weight", StringComparison.Ordinal) && !t.Name.Contains("_norm.weight")
        && !t.Name.Contains("ffn_gate_inp.weight");

    /// <summary>A type whose blocks do not divide the rows becomes one whose do.</summary>
    static GgmlType Fallback(GgmlType type, Tensor t)
    {
        long columns = t.Dims[0];
        if (columns % GgmlTypes.BlockSize(type) == 0) return type;
        var fallback = type switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K => GgmlType.Q8_0,
            _ => throw new R1Error($"tensor '{t.Name}' has rows of {columns} values, which {type} cannot hold (blocks of {GgmlTypes.BlockSize(type)})"),
        };
        return columns % GgmlTypes.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }
}
