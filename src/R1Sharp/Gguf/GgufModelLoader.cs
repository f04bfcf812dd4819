using System.IO.MemoryMappedFiles;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using R1Sharp.Model;
using R1Sharp.Quantization;
using R1Sharp.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Gguf;

/// <summary>
/// A model read from a GGUF file (llama.cpp's layout, as <see cref="GgufExporter"/> writes it and llama.cpp's converter
/// does): architectures llama, qwen2, qwen3 and deepseek2 (MLA + MoE, with <c>attn_kv_b</c> or the split
/// <c>attn_k_b</c>/<c>attn_v_b</c>). The file is mapped into memory and its matrices stay as stored — quantized, F16,
/// BF16 or F32 — as <see cref="PackedMatrix"/> rows the CPU kernels read in place, so resident memory is about the
/// file's size; norms, biases and the MoE router become small float32 tensors. The hyper-parameters become an HF
/// config (so the model is built exactly as from a checkpoint folder), every tensor is checked against it by name and
/// shape, and the file is treated as untrusted like any other input.
/// </summary>
public static partial class GgufModelLoader
{
    /// <summary>Positions R1Sharp will build rotary tables for (a larger context_length is refused, not allocated).</summary>
    const int MaxContext = 1 << 18;

    /// <summary>True for a path that names a GGUF file (the magic number decides, not the extension).</summary>
    public static bool IsGgufFile(string path)
    {
        if (!File.Exists(path)) return false;
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.Read(magic) == 4 && BitConverter.ToUInt32(magic) == GgufWriter.Magic;
    }

    /// <summary>The model and tokenizer of a GGUF file.</summary>
    public static (CausalLanguageModel Model, HfTokenizer Tokenizer) Load(string path)
    {
        var file = GgufReader.Read(path);
        var tokenizer = GgufTokenizer.Load(file);
        return (LoadModel(file), tokenizer);
    }

    public static CausalLanguageModel LoadModel(GgufFile file)
    {
        var config = Config(file);
        var tensors = file.Tensors.ToDictionary(t => t.Name);
        var mapping = new Mapping(file);
        CausalLanguageModel? model = null;
        try
        {
            using (WeightStorage.Defer()) model = new CausalLanguageModel(config);
            model.WeightMemory = mapping;
            var used = new HashSet<string>();
            LoadTensors(model, file, tensors, mapping, used);
            var unused = file.Tensors.Select(t => t.Name).Where(n => !used.Contains(n) && n != GgufNames.RopeFrequencies).ToList();
            if (unused.Count > 0)
                throw new R1Error($"{file.Path}: tensors R1Sharp's {config.Family} model has no place for: {string.Join(", ", unused.Take(10))}{(unused.Count > 10 ? ", ..." : "")}");
            model.eval();
            return model;
        }
        catch
        {
            if (model is null) mapping.Dispose();
            model?.Dispose();
            throw;
        }
    }

    /// <summary>The file mapped read-only; tensors' bytes are read through it in place.</summary>
    sealed unsafe class Mapping : IDisposable
    {
        readonly MemoryMappedFile map;
        readonly MemoryMappedViewAccessor view;
        readonly byte* start;
        readonly GgufFile file;

        public Mapping(GgufFile file)
        {
            this.file = file;
            map = MemoryMappedFile.CreateFromFile(file.Path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            start = p + view.PointerOffset;
            if ((long)view.SafeMemoryMappedViewHandle.ByteLength < file.FileLength)
                throw new R1Error($"{file.Path}: the file changed while it was being read");
        }

        /// <summary>A tensor's first byte (the reader checked it lies inside the file).</summary>
        public byte* Data(GgufTensorInfo tensor) => start + file.DataOffset + tensor.Offset;

        public void Dispose()
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
        }
    }

    // ---- hyper-parameters -------------------------------------------------------------------------------------------

    /// <summary>The HF config the file's metadata describes, checked before anything is allocated from it.</summary>
    static ModelConfig Config(GgufFile file)
    {
        string src = file.Path;
        string arch = file.Architecture ?? throw new R1Error($"{src}: no general.architecture");
        if (!GgufNames.Architectures.Values.Contains(arch))
            throw new R1Error($"{src}: architecture '{arch}' is not supported ({string.Join(", ", GgufNames.Architectures.Values)})");
        int Key(string key, int? fallback = null, int max = 1 << 24)
        {
            var value = file.Find($"{arch}.{key}");
            if (value is null) return fallback ?? throw new R1Error($"{src}: metadata key '{arch}.{key}' is missing");
            if (value.IsArray) throw new R1Error($"{src}: {arch}.{key} varies per layer, which R1Sharp does not support");
            long n = value.AsInteger();
            if (n < 0 || n > max) throw new R1Error($"{src}: {arch}.{key} = {n} is out of range (0 to {max})");
            return (int)n;
        }
        // A float32 as the decimal it was written from (1e-6, not 9.99999997e-7).
        double Real(string key, double fallback) => file.Find($"{arch}.{key}")?.Value switch
        {
            null => fallback,
            float f => double.Parse(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture),
            double d => d,
            var other => throw new R1Error($"{src}: {arch}.{key} must be a float, got {other}"),
        };
        bool Has(string tensor) => file.Tensors.Any(t => t.Name == tensor);
        var embedding = file.Tensors.FirstOrDefault(t => t.Name == "token_embd.weight") ?? throw new R1Error($"{src}: tensor 'token_embd.weight' not found");
        if (embedding.Dims.Length != 2) throw new R1Error($"{src}: token_embd.weight must be 2-d, got [{string.Join(", ", embedding.Shape)}]");

        int hidden = Key("embedding_length"), heads = Key("attention.head_count", max: 1 << 16);
        int vocab = Key("vocab_size", fallback: (int)Math.Min(embedding.Dims[1], int.MaxValue));
        if (embedding.Dims[0] != hidden || embedding.Dims[1] != vocab)
            throw new R1Error($"{src}: token_embd.weight is [{string.Join(", ", embedding.Shape)}], not [{vocab}, {hidden}] as the metadata says");
        int context = Key("context_length", fallback: 4096, max: int.MaxValue);
        if (context > MaxContext) throw new R1Error($"{src}: {arch}.context_length {context} is larger than R1Sharp supports ({MaxContext})");

        var json = new JsonObject
        {
            ["vocab_size"] = vocab,
            ["hidden_size"] = hidden,
            ["intermediate_size"] = Key("feed_forward_length"),
            ["num_hidden_layers"] = Key("block_count", max: 1 << 12),
            ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = Key("attention.head_count_kv", fallback: heads, max: 1 << 16),
            ["max_position_embeddings"] = context,
            ["rms_norm_eps"] = Real("attention.layer_norm_rms_epsilon", 1e-6),
            ["rope_theta"] = Real("rope.freq_base", 10000),
            ["tie_word_embeddings"] = !Has("output.weight"),
            ["bos_token_id"] = TokenId(file, "tokenizer.ggml.bos_token_id", vocab),
            ["eos_token_id"] = TokenId(file, "tokenizer.ggml.eos_token_id", vocab),
            ["pad_token_id"] = TokenId(file, "tokenizer.ggml.padding_token_id", vocab),
        };
        if (file.Find($"{arch}.rope.scaling.type")?.AsString() is { } scaling && scaling != "none" && arch != "deepseek2")
            throw new R1Error($"{src}: {arch}.rope.scaling.type '{scaling}' is not supported");
        switch (arch)
        {
            case "llama":
            case "qwen2":
            case "qwen3":
                json["model_type"] = arch;
                int headDim = Key("attention.key_length", fallback: heads == 0 ? 0 : hidden / heads, max: 1 << 16);
                if (headDim != (heads == 0 ? 0 : hidden / heads) || arch == "qwen3") json["head_dim"] = headDim;
                if (arch == "llama")
                {
                    json["attention_bias"] = Has("blk.0.attn_q.bias");
                    if (file.Tensors.FirstOrDefault(t => t.Name == GgufNames.RopeFrequencies) is { } freqs)
                        json["rope_scaling"] = Llama3Scaling(file, freqs, headDim, Real("rope.freq_base", 10000));
                }
                break;
            default:
                DeepSeek(file, json, Key, Real);
                break;
        }
        var config = ModelConfig.FromJson(json, $"{src} (GGUF metadata)");
        CheckBeforeBuilding(file, config);
        return config;
    }

    /// <summary>
    /// The sizes a model allocates from before its tensors are read — layers, head widths, experts — checked against the
    /// tensors in the file, so a lying header fails here instead of asking for memory it describes.
    /// </summary>
    static void CheckBeforeBuilding(GgufFile file, ModelConfig c)
    {
        var byName = file.Tensors.ToDictionary(t => t.Name);
        void Rows(string name, long expected)
        {
            if (!byName.TryGetValue(name, out var t)) throw new R1Error($"{file.Path}: tensor '{name}' not found");
            if (t.Dims.Length != 2 || t.Dims[1] != expected)
                throw new R1Error($"{file.Path}: tensor '{name}' is [{string.Join(", ", t.Shape)}], which does not fit the metadata ({expected} rows expected)");
        }
        for (int l = 0; l < c.NumHiddenLayers; l++)
            if (!byName.ContainsKey($"blk.{l}.attn_norm.weight"))
                throw new R1Error($"{file.Path}: block_count is {c.NumHiddenLayers} but layer {l} has no tensors (blk.{l}.attn_norm.weight not found)");
        if (!c.IsMla)
        {
            Rows("blk.0.attn_q.weight", (long)c.NumAttentionHeads * c.GqaHeadDim);
            Rows("blk.0.attn_k.weight", (long)c.NumKeyValueHeads * c.GqaHeadDim);
            return;
        }
        Rows("blk.0.attn_kv_a_mqa.weight", (long)c.KvLoraRank + c.QkRopeHeadDim);
        Rows(c.QLoraRank is > 0 ? "blk.0.attn_q_b.weight" : "blk.0.attn_q.weight", (long)c.NumAttentionHeads * (c.QkNopeHeadDim + c.QkRopeHeadDim));
        if (c.NRoutedExperts > 0)
        {
            int moe = Enumerable.Range(0, c.NumHiddenLayers).FirstOrDefault(c.IsMoeLayer, -1);
            if (moe >= 0) Rows($"blk.{moe}.ffn_gate_inp.weight", c.NRoutedExperts);
        }
    }

    static int? TokenId(GgufFile file, string key, int vocab)
    {
        if (file.Find(key) is not { } value) return null;
        long id = value.AsInteger();
        if (id < 0 || id >= vocab) throw new R1Error($"{file.Path}: {key} = {id} is outside the vocab of {vocab}");
        return (int)id;
    }

    /// <summary>deepseek2's MLA and MoE keys as HF's deepseek_v3 config (the inverse of the exporter's).</summary>
    static void DeepSeek(GgufFile file, JsonObject json, Func<string, int?, int, int> key, Func<string, double, double> real)
    {
        int Key(string k, int? fallback = null) => key(k, fallback, 1 << 24);
        json["model_type"] = "deepseek_v3";
        json["num_key_value_heads"] = json["num_attention_heads"]!.DeepClone(); // MLA's one latent "head" is llama.cpp's view
        int rope = Key("rope.dimension_count");
        // Files with absorbed MLA say key_length_mla (nope + rope); older ones key_length itself.
        int qkHead = file.Find("deepseek2.attention.key_length_mla") is null ? Key("attention.key_length") : Key("attention.key_length_mla");
        int qRank = Key("attention.q_lora_rank", 0);
        json["q_lora_rank"] = qRank > 0 ? qRank : null;
        json["kv_lora_rank"] = Key("attention.kv_lora_rank");
        json["qk_rope_head_dim"] = rope;
        json["qk_nope_head_dim"] = qkHead - rope;
        json["v_head_dim"] = file.Find("deepseek2.attention.value_length_mla") is null ? Key("attention.value_length") : Key("attention.value_length_mla");
        json["rope_interleave"] = true;
        int experts = Key("expert_count", 0);
        json["n_routed_experts"] = experts;
        if (experts > 0)
        {
            json["n_shared_experts"] = Key("expert_shared_count", 0);
            json["num_experts_per_tok"] = Key("expert_used_count");
            json["moe_intermediate_size"] = Key("expert_feed_forward_length");
            json["routed_scaling_factor"] = real("expert_weights_scale", 1);
            json["norm_topk_prob"] = file.Find("deepseek2.expert_weights_norm")?.Value as bool? ?? false;
            json["scoring_func"] = Key("expert_gating_func", 1) == 2 ? "sigmoid" : "softmax";
            json["n_group"] = Key("expert_group_count", 1);
            json["topk_group"] = Key("expert_group_used_count", 1);
            json["first_k_dense_replace"] = Key("leading_dense_block_count", 0);
        }
        if (file.Find("deepseek2.rope.scaling.type")?.AsString() is { } type && type != "none")
        {
            if (type != "yarn") throw new R1Error($"{file.Path}: deepseek2.rope.scaling.type '{type}' is not supported (yarn)");
            // llama.cpp folds DeepSeek's mscale_all_dim into yarn_log_multiplier = 0.1 · mscale_all_dim.
            double mscale = real("rope.scaling.yarn_log_multiplier", 0) / 0.1;
            json["rope_scaling"] = new JsonObject
            {
                ["type"] = "yarn", ["factor"] = real("rope.scaling.factor", 1),
                ["original_max_position_embeddings"] = Key("rope.scaling.original_context_length"),
                ["beta_fast"] = 32.0, ["beta_slow"] = 1.0, ["mscale"] = mscale, ["mscale_all_dim"] = mscale,
            };
        }
    }

    /// <summary>
    /// Llama-3.1 rope scaling from the per-frequency divisors llama.cpp stores (rope_freqs): the scale factor is the
    /// largest divisor, and with the usual low/high frequency factors 1 and 4 the original context follows from any
    /// divisor between; the result must reproduce every divisor.
    /// </summary>
    static JsonObject Llama3Scaling(GgufFile file, GgufTensorInfo freqs, int headDim, double theta)
    {
        if (freqs.Type != GgmlType.F32 || freqs.Dims.Length != 1 || freqs.Dims[0] != headDim / 2)
            throw new R1Error($"{file.Path}: rope_freqs.weight must be {headDim / 2} F32 values");
        float[] divisors = file.ReadTensorFloats(freqs);
        double factor = divisors.Max();
        const double Low = 1, High = 4;
        double original = 0;
        for (int i = 0; i < divisors.Length && original == 0; i++)
        {
            double wavelength = 2 * Math.PI * Math.Pow(theta, 2.0 * i / headDim);
            double smooth = (1 / divisors[i] - 1 / factor) / (1 - 1 / factor);
            if (smooth > 1e-3 && smooth < 1 - 1e-3) original = wavelength * (smooth * (High - Low) + Low);
        }
        if (original == 0)
        {
            // No divisor between 1 and the factor: any context between the last kept and the first scaled wavelength fits.
            int firstScaled = Array.FindIndex(divisors, d => d > 1.0001);
            original = firstScaled < 0 ? 1 : 2 * Math.PI * Math.Pow(theta, 2.0 * firstScaled / headDim) * Low * 0.999;
        }
        var scaling = new RopeScaling("llama3", factor, (int)Math.Round(original), LowFreqFactor: Low, HighFreqFactor: High);
        var plain = RotaryEmbedding.InverseFrequencies(headDim, theta, null, out _);
        var scaled = RotaryEmbedding.InverseFrequencies(headDim, theta, scaling, out _);
        for (int i = 0; i < divisors.Length; i++)
            if (Math.Abs(plain[i] / scaled[i] - divisors[i]) > 1e-4 * divisors[i])
                throw new R1Error($"{file.Path}: rope_freqs.weight is not a Llama-3 rope scaling R1Sharp can reproduce (divisor {i}: {divisors[i]})");
        return scaling.ToJson();
    }

    // ---- tensors ----------------------------------------------------------------------------------------------------

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    private static partial Regex LayerName();

    [GeneratedRegex(@"^mlp\.experts\.(\d+)\.(gate|up|down)_proj$")]
    private static partial Regex ExpertName();

    /// <summary>Each of the model's weights from its tensor in the file: projections packed in place, the rest copied.</summary>
    static unsafe void LoadTensors(CausalLanguageModel model, GgufFile file, Dictionary<string, GgufTensorInfo> tensors, Mapping mapping, HashSet<string> used)
    {
        var c = model.Config;
        bool permuted = c.Family == ModelFamily.Llama; // llama.cpp's llama rotates adjacent pairs: q/k rows are stored permuted
        GgufTensorInfo Tensor(string name, long[] shape)
        {
            if (!tensors.TryGetValue(name, out var t)) throw new R1Error($"{file.Path}: tensor '{name}' not found");
            if (!t.Shape.SequenceEqual(shape))
                throw new R1Error($"{file.Path}: tensor '{name}' is [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}]");
            if (!GgmlQuants.IsSupported(t.Type))
                throw new R1Error($"{file.Path}: tensor '{name}' is {t.Type}, which R1Sharp does not read (supported: {GgmlQuants.SupportedList})");
            used.Add(name);
            return t;
        }
        PackedMatrix Packed(GgufTensorInfo t, int rows, int columns) => new(t.Type, rows, columns, mapping.Data(t), mapping, fileMapped: true);
        float[] Values(GgufTensorInfo t)
        {
            var values = new float[t.ElementCount];
            GgmlQuants.Dequantize(t.Type, new ReadOnlySpan<byte>(mapping.Data(t), checked((int)t.ByteSize)), values);
            return values;
        }

        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        foreach (var (name, module) in modules)
        {
            switch (module)
            {
                case TokenEmbedding embedding:
                    embedding.Pack(Packed(Tensor(GgufNames.ModelTensors["model.embed_tokens.weight"], [c.VocabSize, c.HiddenSize]), c.VocabSize, c.HiddenSize));
                    break;
                case Projection projection:
                    LoadProjection(name, projection);
                    break;
            }
        }
        using var _ = no_grad();
        foreach (var (name, parameter) in model.state_dict())
        {
            if (name.EndsWith("kv_b_proj.weight")) continue; // rebuilt from attn_k_b and attn_v_b above
            var t = Tensor(SmallTensorName(name, file), parameter.shape);
            float[] values = Values(t);
            if (permuted && Regex.IsMatch(name, @"self_attn\.[qk]_proj\.bias$"))
                values = PermutedRows(values, name.Contains("q_proj") ? c.NumAttentionHeads : c.NumKeyValueHeads, c.GqaHeadDim, 1);
            parameter.copy_(torch.tensor(values, parameter.shape));
        }

        void LoadProjection(string name, Projection projection)
        {
            int rows = (int)projection.OutFeatures, columns = (int)projection.InFeatures;
            if (name == "lm_head")
            {
                projection.Pack(Packed(Tensor(GgufNames.ModelTensors["lm_head.weight"], [rows, columns]), rows, columns));
                return;
            }
            var layer = LayerName().Match(name);
            if (!layer.Success) throw new R1Error($"{file.Path}: no GGUF tensor for '{name}'");
            int index = int.Parse(layer.Groups[1].Value);
            string blk = $"blk.{index}", module = layer.Groups[2].Value;
            if (ExpertName().Match(module) is { Success: true } expert)
            {
                string stacked = GgufNames.Experts(index, expert.Groups[2].Value);
                var t = Tensor(stacked, [c.NRoutedExperts, rows, columns]);
                projection.Pack(Packed(t, c.NRoutedExperts * rows, columns).Slice(int.Parse(expert.Groups[1].Value) * rows, rows));
                return;
            }
            if (module == "self_attn.kv_b_proj")
            {
                LoadKvB(index, name[..name.LastIndexOf('.')], projection, rows, columns);
                return;
            }
            string gguf = GgufNames.LayerModules.TryGetValue(module, out var mapped) ? $"{blk}.{mapped}.weight"
                : throw new R1Error($"{file.Path}: no GGUF tensor for '{name}'");
            var matrix = Packed(Tensor(gguf, [rows, columns]), rows, columns);
            if (permuted && module is "self_attn.q_proj" or "self_attn.k_proj")
            {
                int heads = module == "self_attn.q_proj" ? c.NumAttentionHeads : c.NumKeyValueHeads;
                matrix = matrix.Reordered(PermutedOrder(heads, c.GqaHeadDim));
            }
            projection.Pack(matrix);
        }

        // MLA's kv_b_proj is stored whole (attn_kv_b) or split per head into attn_k_b (transposed) and attn_v_b.
        void LoadKvB(int layer, string attentionName, Projection projection, int rows, int columns)
        {
            // Older converters kept it whole (no name in GgufNames, which lists what the exporter writes).
            if (tensors.ContainsKey($"blk.{layer}.attn_kv_b.weight"))
            {
                projection.Pack(Packed(Tensor($"blk.{layer}.attn_kv_b.weight", [rows, columns]), rows, columns));
                return;
            }
            int heads = c.NumAttentionHeads, rank = c.KvLoraRank;
            var (keys, values) = GgufNames.KvB(layer);
            var kInfo = Tensor(keys, [heads, rank, c.QkNopeHeadDim]);
            var vInfo = Tensor(values, [heads, c.VHeadDim, rank]);
            var attention = (MultiHeadLatentAttention)modules[attentionName];
            QuantizedUpProjection Up(GgufTensorInfo info, int perHead, int width) => new(GgmlQuants.ActivationBlock(info.Type),
                info.Type == GgmlType.Q5_1 ? Packed(info, heads * perHead, width).BlockMins().view(heads, perHead, width / 32) : null);
            var (keyUp, valueUp) = (Up(kInfo, rank, c.QkNopeHeadDim), Up(vInfo, c.VHeadDim, rank));
            if (keyUp.Block > 0 || valueUp.Block > 0) attention.Quantized = (keyUp, valueUp);
            using var k = torch.tensor(Values(kInfo), [heads, rank, c.QkNopeHeadDim]);
            using var v = torch.tensor(Values(vInfo), [heads, c.VHeadDim, rank]);
            using var kvB = cat([k.transpose(1, 2), v], 1).reshape(rows, columns);
            projection.Load(kvB);
        }
    }

    /// <summary>The GGUF name of a norm, bias, router or correction bias.</summary>
    static string SmallTensorName(string hfName, GgufFile file)
    {
        if (GgufNames.ModelTensors.TryGetValue(hfName, out string? whole)) return whole;
        var layer = GgufNames.HfLayerTensor().Match(hfName);
        if (layer.Success)
        {
            int index = int.Parse(layer.Groups[1].Value);
            string module = layer.Groups[2].Value, kind = layer.Groups[3].Value;
            if (module == "mlp.gate" && kind == "e_score_correction_bias") return GgufNames.ExpertProbabilityBias(index);
            if (GgufNames.LayerModules.TryGetValue(module, out string? mapped)) return $"blk.{index}.{mapped}.{kind}";
        }
        throw new R1Error($"{file.Path}: no GGUF tensor for '{hfName}'");
    }

    /// <summary>
    /// Where each HF row of q or k lives in llama.cpp's file: within a head of d rows, HF row p·d/2 + i (half p, pair i)
    /// is stored at 2i + p (the exporter's <see cref="GgufExporter.PermuteRotaryRows"/>, inverted).
    /// </summary>
    static int[] PermutedOrder(int heads, int headDim)
    {
        var order = new int[heads * headDim];
        for (int h = 0; h < heads; h++)
            for (int p = 0; p < 2; p++)
                for (int i = 0; i < headDim / 2; i++) order[h * headDim + p * headDim / 2 + i] = h * headDim + 2 * i + p;
        return order;
    }

    static float[] PermutedRows(float[] values, int heads, int headDim, int columns)
    {
        var order = PermutedOrder(heads, headDim);
        var result = new float[values.Length];
        for (int r = 0; r < order.Length; r++) Array.Copy(values, order[r] * columns, result, r * columns, columns);
        return result;
    }
}
