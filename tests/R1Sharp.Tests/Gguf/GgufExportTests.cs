using System.Text.Json.Nodes;
using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

public class GgufExportTests
{
    static readonly string[] LayerTensors =
        ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"];

    static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    [Fact]
    public void LlamaExportReadsBackHyperParametersTokenizerAndTensors()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("llama");
        var c = model.Config;
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path));

        Assert.Equal("llama", file.Architecture);
        Assert.Equal(0u, file.Get("general.file_type").Value);
        Assert.Equal((uint)c.VocabSize, file.Get("llama.vocab_size").Value);
        Assert.Equal((uint)c.MaxPositionEmbeddings, file.Get("llama.context_length").Value);
        Assert.Equal(64u, file.Get("llama.embedding_length").Value);
        Assert.Equal(128u, file.Get("llama.feed_forward_length").Value);
        Assert.Equal(2u, file.Get("llama.block_count").Value);
        Assert.Equal(4u, file.Get("llama.attention.head_count").Value);
        Assert.Equal(2u, file.Get("llama.attention.head_count_kv").Value);
        Assert.Equal(16u, file.Get("llama.rope.dimension_count").Value);
        Assert.Equal(500_000f, file.Get("llama.rope.freq_base").Value);
        Assert.Equal((float)c.RmsNormEps, file.Get("llama.attention.layer_norm_rms_epsilon").Value);

        Assert.Equal("gpt2", file.Get("tokenizer.ggml.model").AsString());
        Assert.Equal("qwen2", file.Get("tokenizer.ggml.pre").AsString());
        var tokens = (string[])file.Get("tokenizer.ggml.tokens").Value;
        var types = (int[])file.Get("tokenizer.ggml.token_type").Value;
        Assert.Equal(c.VocabSize, tokens.Length);
        Assert.Equal(c.VocabSize, types.Length);
        Assert.Equal("Ġ", tokens[32]); // the space byte in GPT-2's byte alphabet
        Assert.Equal("Ġthe", tokens[258]);
        Assert.Equal(TestTokenizerFiles.Bos, tokens[TestTokenizerFiles.BosId]);
        Assert.Equal("[PAD299]", tokens[299]);
        Assert.Equal(GgufTokenizerMetadata.Normal, types[100]);
        Assert.Equal(GgufTokenizerMetadata.Control, types[TestTokenizerFiles.EosId]);
        Assert.Equal(GgufTokenizerMetadata.UserDefined, types[TestTokenizerFiles.ThinkOpenId]);
        Assert.Equal(GgufTokenizerMetadata.Unused, types[299]);
        Assert.Equal(TestTokenizerFiles.Merges, file.Get("tokenizer.ggml.merges").Value);
        Assert.Equal((uint)TestTokenizerFiles.BosId, file.Get("tokenizer.ggml.bos_token_id").Value);
        Assert.Equal((uint)TestTokenizerFiles.EosId, file.Get("tokenizer.ggml.eos_token_id").Value);
        Assert.Null(file.Find("tokenizer.ggml.padding_token_id"));
        Assert.Equal(true, file.Get("tokenizer.ggml.add_bos_token").Value);
        Assert.Equal(TestTokenizerFiles.ChatTemplate, file.Get("tokenizer.chat_template").AsString());

        var expectedNames = new[] { "token_embd.weight", "output_norm.weight", "output.weight" }
            .Concat(Enumerable.Range(0, 2).SelectMany(i => LayerTensors.Select(t => $"blk.{i}.{t}.weight")));
        Assert.Equal(expectedNames.Order(), file.Tensors.Select(t => t.Name).Order());
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));

        var hf = model.HfStateDict();
        var embd = file.Tensor("token_embd.weight");
        Assert.Equal(new long[] { 64, 300 }, embd.Dims);
        Assert.Equal(Values(hf["model.embed_tokens.weight"]), file.ReadTensorFloats(embd));
        Assert.Equal(Values(hf["model.layers.1.self_attn.v_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.1.attn_v.weight")));
        Assert.Equal(Values(hf["model.layers.0.mlp.down_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.0.ffn_down.weight")));
        // q and k rows are reordered per head from rotate-half to adjacent pairs.
        var q = hf["model.layers.0.self_attn.q_proj.weight"];
        Assert.NotEqual(Values(q), file.ReadTensorFloats(file.Tensor("blk.0.attn_q.weight")));
        Assert.Equal(Values(GgufExporter.PermuteRotaryRows(q, 4)), file.ReadTensorFloats(file.Tensor("blk.0.attn_q.weight")));
        Assert.Equal(Values(GgufExporter.PermuteRotaryRows(hf["model.layers.0.self_attn.k_proj.weight"], 2)),
            file.ReadTensorFloats(file.Tensor("blk.0.attn_k.weight")));
    }

    [Fact]
    public void RotaryPermutationInterleavesEachHeadsHalves()
    {
        // One head of dim 4 over two columns: rows (a0, a1 | b0, b1) become (a0, b0, a1, b1).
        using var w = tensor(new float[] { 0, 0, 1, 1, 2, 2, 3, 3 }).view(4, 2);
        Assert.Equal(new float[] { 0, 0, 2, 2, 1, 1, 3, 3 }, Values(GgufExporter.PermuteRotaryRows(w, 1)));
        using var bias = tensor(new float[] { 0, 1, 2, 3, 4, 5, 6, 7 });
        Assert.Equal(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }, Values(GgufExporter.PermuteRotaryRows(bias, 2)));
    }

    [Fact]
    public void Qwen2ExportKeepsRowOrderWritesBiasesAndOmitsTiedOutput()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("qwen2");
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path));
        var hf = model.HfStateDict();

        Assert.Equal("qwen2", file.Architecture);
        Assert.Equal(1_000_000f, file.Get("qwen2.rope.freq_base").Value);
        Assert.DoesNotContain(file.Tensors, t => t.Name == "output.weight"); // tied: llama.cpp reuses token_embd
        Assert.Equal(Values(hf["model.layers.0.self_attn.q_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.0.attn_q.weight")));
        Assert.Equal(Values(hf["model.layers.1.self_attn.k_proj.bias"]), file.ReadTensorFloats(file.Tensor("blk.1.attn_k.bias")));
        Assert.Equal(new long[] { 32 }, file.Tensor("blk.1.attn_v.bias").Dims);
    }

    [Fact]
    public void Qwen3ExportWritesHeadDimAndPerHeadNormsInRowOrder()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("qwen3-untied");
        var c = model.Config;
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path));
        var hf = model.HfStateDict();

        Assert.Equal("qwen3", file.Architecture);
        Assert.Equal(64u, file.Get("qwen3.embedding_length").Value);
        Assert.Equal(4u, file.Get("qwen3.attention.head_count").Value);
        Assert.Equal(2u, file.Get("qwen3.attention.head_count_kv").Value);
        Assert.Equal((uint)c.GqaHeadDim, file.Get("qwen3.attention.key_length").Value); // 32, not 64 / 4
        Assert.Equal((uint)c.GqaHeadDim, file.Get("qwen3.attention.value_length").Value);
        Assert.Equal((uint)c.GqaHeadDim, file.Get("qwen3.rope.dimension_count").Value);
        Assert.Equal(1_000_000f, file.Get("qwen3.rope.freq_base").Value);

        string[] layerTensors = [.. LayerTensors, "attn_q_norm", "attn_k_norm"];
        var expectedNames = new[] { "token_embd.weight", "output_norm.weight", "output.weight" }
            .Concat(Enumerable.Range(0, 2).SelectMany(i => layerTensors.Select(t => $"blk.{i}.{t}.weight")));
        Assert.Equal(expectedNames.Order(), file.Tensors.Select(t => t.Name).Order());
        Assert.Equal(new long[] { 32 }, file.Tensor("blk.1.attn_k_norm.weight").Dims);
        Assert.Equal(Values(hf["model.layers.1.self_attn.q_norm.weight"]), file.ReadTensorFloats(file.Tensor("blk.1.attn_q_norm.weight")));
        Assert.Equal(Values(hf["model.layers.0.self_attn.k_norm.weight"]), file.ReadTensorFloats(file.Tensor("blk.0.attn_k_norm.weight")));
        // llama.cpp's qwen3 rotates halves (NEOX), as HF does: q and k rows keep their order.
        Assert.Equal(Values(hf["model.layers.0.self_attn.q_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.0.attn_q.weight")));
        Assert.Equal(new long[] { 64, 128 }, file.Tensor("blk.0.attn_q.weight").Dims);
        Assert.Equal(Values(hf["model.layers.1.self_attn.k_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.1.attn_k.weight")));
        Assert.Equal(Values(hf["lm_head.weight"]), file.ReadTensorFloats(file.Tensor("output.weight")));
    }

    [Theory]
    [MemberData(nameof(LlamaCppParityTests.VariantData), MemberType = typeof(LlamaCppParityTests))]
    public void EveryOneToOneTensorNameMapsBackToItsHuggingFaceName(string variant)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create(variant);
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path));
        var hfNames = model.HfStateDict().Keys.ToHashSet();
        var wholeModel = GgufNames.ModelTensors.ToDictionary(kv => kv.Value, kv => kv.Key);
        int mapped = 0;
        foreach (var tensor in file.Tensors)
        {
            string? hf = wholeModel.GetValueOrDefault(tensor.Name);
            if (GgufNames.GgufLayerTensor().Match(tensor.Name) is { Success: true } m
                && GgufNames.HfLayerModules.TryGetValue(m.Groups[2].Value, out var module))
                hf = $"model.layers.{m.Groups[1].Value}.{module}.{m.Groups[3].Value}";
            if (hf is null) continue; // stacked experts, split kv_b, router bias, rope_freqs
            Assert.Contains(hf, hfNames);
            mapped++;
        }
        Assert.True(mapped >= 2 + 2 * 9, $"{variant}: only {mapped} tensors mapped back");
    }

    [Fact]
    public void LlamaRopeScalingBecomesRopeFreqsTensor()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("llama-bias-rope-scaling");
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path));
        var factors = file.ReadTensorFloats(file.Tensor("rope_freqs.weight"));
        Assert.Equal(8, factors.Length);
        Assert.Equal(1f, factors[0]); // short wavelengths are kept
        Assert.Equal(8f, factors[^1], 4); // long wavelengths slowed by the factor
        Assert.Contains(file.Tensors, t => t.Name == "blk.0.attn_output.bias");
    }

    [Fact]
    public void DeepSeekExportSplitsLatentProjectionAndStacksExperts()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("deepseek_v3-yarn");
        var c = model.Config;
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path, GgufDType.F16));
        var hf = model.HfStateDict();

        Assert.Equal("deepseek2", file.Architecture);
        Assert.Equal(1u, file.Get("deepseek2.attention.head_count_kv").Value); // MLA runs as one latent KV head
        Assert.Equal(24u, file.Get("deepseek2.attention.key_length").Value); // kv_lora_rank + rope
        Assert.Equal(16u, file.Get("deepseek2.attention.value_length").Value);
        Assert.Equal(24u, file.Get("deepseek2.attention.key_length_mla").Value); // nope + rope
        Assert.Equal(16u, file.Get("deepseek2.attention.value_length_mla").Value);
        Assert.Equal(32u, file.Get("deepseek2.attention.q_lora_rank").Value);
        Assert.Equal(8u, file.Get("deepseek2.rope.dimension_count").Value);
        Assert.Equal(1u, file.Get("deepseek2.leading_dense_block_count").Value);
        Assert.Equal(8u, file.Get("deepseek2.expert_count").Value);
        Assert.Equal(2u, file.Get("deepseek2.expert_used_count").Value);
        Assert.Equal(2u, file.Get("deepseek2.expert_gating_func").Value); // sigmoid
        Assert.Equal(4u, file.Get("deepseek2.expert_group_count").Value);
        Assert.Equal(2u, file.Get("deepseek2.expert_group_used_count").Value);
        Assert.Equal(2.5f, file.Get("deepseek2.expert_weights_scale").Value);
        Assert.Equal("yarn", file.Get("deepseek2.rope.scaling.type").AsString());
        Assert.Equal(0.1f, file.Get("deepseek2.rope.scaling.yarn_log_multiplier").Value);
        Assert.DoesNotContain(file.Tensors, t => t.Name.Contains("kv_b") || t.Name == "output.weight");

        // kv_b_proj [heads·(nope + v), rank] splits per head into k_b (transposed) and v_b.
        var kvB = hf["model.layers.1.self_attn.kv_b_proj.weight"].view(c.NumAttentionHeads, c.QkNopeHeadDim + c.VHeadDim, c.KvLoraRank);
        var kB = file.Tensor("blk.1.attn_k_b.weight");
        Assert.Equal(new long[] { c.NumAttentionHeads, c.KvLoraRank, c.QkNopeHeadDim }, kB.Shape);
        AssertClose(Values(kvB.narrow(1, 0, c.QkNopeHeadDim).transpose(1, 2)), file.ReadTensorFloats(kB));
        AssertClose(Values(kvB.narrow(1, c.QkNopeHeadDim, c.VHeadDim)), file.ReadTensorFloats(file.Tensor("blk.1.attn_v_b.weight")));

        var up = file.Tensor("blk.1.ffn_up_exps.weight");
        Assert.Equal(new long[] { 8, 32, 64 }, up.Shape); // [experts, out, in]
        AssertClose(Values(stack(Enumerable.Range(0, 8).Select(e => hf[$"model.layers.1.mlp.experts.{e}.up_proj.weight"]).ToArray())), file.ReadTensorFloats(up));
        Assert.Equal(GgmlType.F32, file.Tensor("blk.1.ffn_gate_inp.weight").Type); // the router is never rounded
        Assert.Equal(Values(hf["model.layers.1.mlp.gate.e_score_correction_bias"]), file.ReadTensorFloats(file.Tensor("blk.1.exp_probs_b.bias")));
        Assert.Contains(file.Tensors, t => t.Name == "blk.1.ffn_down_shexp.weight");
        Assert.Contains(file.Tensors, t => t.Name == "blk.0.ffn_down.weight"); // the leading dense layer
    }

    static void AssertClose(float[] expected, float[] actual) =>
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, Math.Abs(p.First) * 1e-3 + 1e-7));

    [Fact]
    public void F16ExportHalvesMatricesAndKeepsVectorsF32()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("qwen2");
        var file = GgufReader.Read(GgufTestModels.Export(model, dir.Path, GgufDType.F16));
        Assert.Equal(1u, file.Get("general.file_type").Value);
        Assert.All(file.Tensors, t => Assert.Equal(t.Dims.Length == 1 ? GgmlType.F32 : GgmlType.F16, t.Type));
        AssertClose(Values(model.HfStateDict()["model.layers.0.mlp.up_proj.weight"]), file.ReadTensorFloats(file.Tensor("blk.0.ffn_up.weight")));
    }

    [Fact]
    public void InspectorSummarizesMetadataAndTensors()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("llama");
        string summary = GgufInspector.Summarize(GgufTestModels.Export(model, dir.Path));
        Assert.Contains("architecture: llama", summary);
        Assert.Contains("llama.block_count", summary);
        Assert.Contains("String[300]", summary);
        Assert.Contains("(300 String in all)", summary); // long arrays are abbreviated
        Assert.Contains("blk.1.ffn_down.weight", summary);
        Assert.Contains("[64, 128]", summary); // ffn_down in PyTorch order [out, in]
        Assert.Contains("tensors (21,", summary);
    }

    [Fact]
    public void InspectorNamesTheProblemInACorruptFile()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        File.WriteAllBytes(path, "GGUF\x03\0\0\0"u8.ToArray());
        Assert.Contains("truncated", Assert.Throws<R1Error>(() => GgufInspector.Summarize(path)).Message);
    }

    [Fact]
    public void UnsupportedModelsAndTokenizersAreRejected()
    {
        using var dir = new TempDir();
        using (var noQLora = TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { QLoraRank = null }))
            Assert.Contains("needs q_lora_rank", Assert.Throws<R1Error>(() => GgufTestModels.Export(noQLora, dir.Path)).Message);
        using (var everyOther = TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { MoeLayerFreq = 2 }))
            Assert.Contains("moe_layer_freq", Assert.Throws<R1Error>(() => GgufTestModels.Export(everyOther, dir.Path)).Message);
        using (var yarn = TinyModels.Create(ModelFamily.Qwen2, edit: c => c with { RopeScaling = new RopeScaling("yarn", 4, 512) }))
            Assert.Contains("rope_scaling 'yarn'", Assert.Throws<R1Error>(() => GgufTestModels.Export(yarn, dir.Path)).Message);
        using (var biased = TinyModels.Create(ModelFamily.Qwen3, edit: c => c with { AttentionBias = true }))
            Assert.Contains("attention_bias", Assert.Throws<R1Error>(() => GgufTestModels.Export(biased, dir.Path)).Message);
        using (var small = TinyModels.Create(ModelFamily.Llama, edit: c => c with { VocabSize = 200 }))
            Assert.Contains("outside the model's vocab of 200", Assert.Throws<R1Error>(() => GgufTestModels.Export(small, dir.Path)).Message);
        Assert.False(File.Exists(dir.File("model.gguf")));
    }

    static JsonObject PreTokenizer(string json) => new() { ["pre_tokenizer"] = JsonNode.Parse(json) };

    [Theory]
    [InlineData("""{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}""", "gpt-2")]
    [InlineData("""{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}""", "llama-bpe")]
    // DeepSeek-V3's tokenizer.json pre-tokenizer, as shipped.
    [InlineData("""{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"}, "behavior": "Isolated", "invert": false}, {"type": "Split", "pattern": {"Regex": "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}""", "deepseek-v3")]
    public void PreTokenizerNameFollowsTheSplitRegexes(string preTokenizer, string expected)
    {
        Assert.Equal(expected, GgufTokenizerMetadata.PreTokenizerName(PreTokenizer(preTokenizer), "tokenizer.json"));
    }

    [Fact]
    public void UnknownSplitRegexIsRejected()
    {
        var json = PreTokenizer("""{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated"},{"type":"ByteLevel","use_regex":false}]}""");
        Assert.Contains("match none llama.cpp implements", Assert.Throws<R1Error>(() => GgufTokenizerMetadata.PreTokenizerName(json, "tokenizer.json")).Message);
    }
}
