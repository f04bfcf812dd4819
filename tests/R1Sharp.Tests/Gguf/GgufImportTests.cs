using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Serving;
using R1Sharp.Tests.Tokenizers;
using R1Sharp.Tokenizers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// GGUF files read back as models and tokenizers: an exported f32 file computes the logits of the model it came from
/// (on the CPU kernels and on libtorch), matrices stay packed, and a tokenizer written to GGUF metadata and rebuilt
/// encodes every test text as the original tokenizer.json does.
/// </summary>
public class GgufImportTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Variants() => GgufTestModels.Variants.Select(v => new object[] { v });

    static float[] LastLogits(CausalLanguageModel model, int[] prompt)
    {
        using var ids = tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1);
        using var logits = model.Forward(ids);
        return logits[0, -1].data<float>().ToArray();
    }

    /// <summary>Last-position logits through the engine's cached forward (the CPU kernels unless told otherwise).</summary>
    internal static float[] CachedLogits(CausalLanguageModel model, int[] prompt, bool kernels = true)
    {
        using var noGrad = no_grad(); // the kernels never run where gradients are wanted
        var runner = ForwardRunner.For(model);
        runner.UseCpuKernels = kernels;
        using var cache = KvCache.Create(model.Config, 1, prompt.Length, CPU);
        using var ids = tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1);
        using var positions = arange(prompt.Length, dtype: int64).view(1, -1);
        using var logits = runner.Forward(ids, positions, null, cache);
        runner.UseCpuKernels = true;
        return logits[0].data<float>().ToArray();
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void F32FileComputesTheOriginalModelsLogits(string variant)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create(variant);
        string path = GgufTestModels.Export(model, dir.Path);
        using var bundle = ModelBundle.Load(path);
        Assert.True(bundle.Model.IsPacked);
        // The architecture round-trips; token ids come from the tokenizer's metadata.
        var loaded = bundle.Model.Config;
        Assert.Equal(model.Config with { BosTokenId = loaded.BosTokenId, EosTokenIds = loaded.EosTokenIds, PadTokenId = loaded.PadTokenId, InitializerRange = loaded.InitializerRange }, loaded);
        int[] prompt = [TestTokenizerFiles.BosId, 5, 77, 200, 31, 4, 150, 9];
        float[] expected = LastLogits(model, prompt);
        double scale = Math.Max(1, expected.Max(Math.Abs));
        foreach (bool kernels in new[] { true, false })
        {
            float[] actual = CachedLogits(bundle.Model, prompt, kernels);
            double diff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            output.WriteLine($"{variant} ({(kernels ? "kernels" : "libtorch")}): max |Δlogit| {diff:E2} of {scale:F2}");
            Assert.True(diff <= 1e-4 * scale, $"{variant}: logits differ by {diff}");
        }
        // Greedy decoding through the engine agrees too.
        var engine = new GenerationEngine(bundle.Model);
        var ours = engine.Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 12 })])[0][0].TokenIds;
        var reference = new GenerationEngine(model).Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 12 })])[0][0].TokenIds;
        Assert.Equal(reference, ours);
    }

    /// <summary>
    /// A quantized DeepSeek file (quantized attn_k_b/attn_v_b: Q8_0; Q5_0; Q5_1 with its mins) computes the same logits
    /// through the uncached forward, a cached prefill and a cached decode step: both run MLA's absorbed form, rounding
    /// q_nope and the attended latent as llama.cpp does. Tolerance as for the other families' cached forward (1e-3 of
    /// the largest |logit|): the paths differ only in float summation order.
    /// </summary>
    [Theory]
    [InlineData(GgufDType.Q8_0)]
    [InlineData(GgufDType.Q4_K_M)]
    [InlineData(GgufDType.Q5_K_M)]
    public void QuantizedMlaGivesTheSameLogitsCachedAndUncached(GgufDType type)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide("deepseek_v3", layers: 2);
        string f32 = GgufTestModels.Export(model, dir.Path);
        string path = dir.File("quantized.gguf");
        GgufQuantizer.Quantize(f32, path, type);
        using var bundle = ModelBundle.Load(path);
        int[] prompt = [TestTokenizerFiles.BosId, 5, 77, 200, 31, 4, 150, 9, 41, 3];
        float[] uncached = LastLogits(bundle.Model, prompt);
        float[] prefill = CachedLogits(bundle.Model, prompt, kernels: false);
        float[] decode = DecodeStepLogits(bundle.Model, prompt);
        double scale = Math.Max(1, uncached.Max(Math.Abs));
        double prefillDiff = uncached.Zip(prefill, (a, b) => Math.Abs(a - b)).Max();
        double decodeDiff = uncached.Zip(decode, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"deepseek_v3 {type}: max |Δlogit| uncached vs cached prefill {prefillDiff:E2}, vs decode step {decodeDiff:E2} (scale {scale:F2})");
        Assert.True(prefillDiff <= 1e-3 * scale, $"{type}: cached prefill differs from the uncached forward by {prefillDiff}");
        Assert.True(decodeDiff <= 1e-3 * scale, $"{type}: a cached decode step differs from the uncached forward by {decodeDiff}");
    }

    /// <summary>
    /// MLA and MoE models run libtorch's forward, but their packed weights multiply on the CPU kernels (repacked panels
    /// where the CPU has AVX-VNNI) instead of being dequantized per call; the dequantized products are the reference.
    /// </summary>
    [SkippableFact]
    public void A_quantized_mla_model_multiplies_its_packed_weights_on_the_kernels()
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide("deepseek_v3", layers: 2);
        using var bundle = ModelBundle.Load(Q4_K_M(model, dir));
        int[] prompt = [TestTokenizerFiles.BosId, 5, 77, 200, 31, 4, 150, 9, 41, 3];
        var panelled = bundle.Model.modules().OfType<Projection>().Select(p => p.Packed).OfType<PackedMatrix>().Where(p => QuantizedPanels.Used(p.Type)).ToList();
        float[] reference = CachedLogits(bundle.Model, prompt, kernels: false);
        Assert.All(panelled, p => Assert.False(QuantizedPanels.IsBuilt(p))); // the reference dequantizes
        float[] kernels = CachedLogits(bundle.Model, prompt);
        double scale = Math.Max(1, reference.Max(Math.Abs));
        double diff = reference.Zip(kernels, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"deepseek_v3 Q4_K_M: max |Δlogit| kernels vs dequantized {diff:E2} (scale {scale:F2}); {panelled.Count} matrices on panels");
        Assert.True(diff <= 1e-3 * scale, $"the kernels' logits differ from the dequantized reference by {diff}");
        Assert.True(diff > 0, "the same bits as the reference: the packed products did not take the kernels");
        Assert.All(panelled, p => Assert.True(QuantizedPanels.IsBuilt(p), $"a {p.Type} [{p.Rows}, {p.Columns}] matrix was not multiplied on its panels"));
    }

    /// <summary>The last token's logits from a cached decode step after a cached prefill of the rest (libtorch path).</summary>
    static float[] DecodeStepLogits(CausalLanguageModel model, int[] prompt)
    {
        using var noGrad = no_grad();
        var runner = ForwardRunner.For(model);
        runner.UseCpuKernels = false;
        using var cache = KvCache.Create(model.Config, 1, prompt.Length, CPU);
        int n = prompt.Length - 1;
        using var ids = tensor(prompt[..n].Select(i => (long)i).ToArray()).view(1, -1);
        using var positions = arange(n, dtype: int64).view(1, -1);
        runner.Forward(ids, positions, null, cache).Dispose();
        using var last = tensor(new long[] { prompt[n] }).view(1, 1);
        using var position = tensor(new long[] { n }).view(1, 1);
        using var logits = runner.Forward(last, position, null, cache);
        runner.UseCpuKernels = true;
        return logits[0].data<float>().ToArray();
    }

    /// <summary>The model exported to f32 GGUF in <paramref name="dir"/> and quantized to Q4_K_M by R1Sharp; the file's path.</summary>
    static string Q4_K_M(CausalLanguageModel model, TempDir dir)
    {
        string q4 = dir.File("q4.gguf");
        GgufQuantizer.Quantize(GgufTestModels.Export(model, dir.Path), q4, GgufDType.Q4_K_M);
        return q4;
    }

    [Fact]
    public void PackedModelKeepsNoFloatMatricesAndCannotBeSavedOrTrained()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide("qwen2");
        using var bundle = ModelBundle.Load(Q4_K_M(model, dir));
        long floats = bundle.Model.parameters().Sum(p => p.NumberOfElements);
        long matrices = model.parameters().Sum(p => p.NumberOfElements);
        output.WriteLine($"float parameters: {floats} of the f32 model's {matrices}");
        Assert.True(floats < matrices / 50, $"{floats} float parameters: matrices were copied");
        Assert.All(bundle.Model.modules().OfType<Projection>(), p => Assert.NotNull(p.Packed));
        Assert.Throws<R1Error>(() => bundle.Model.HfStateDict());
    }

    /// <summary>
    /// A served GGUF file's quantized matrices are repacked for the CPU kernels when the service starts (one warm-up
    /// token), so the first request does not wait for it.
    /// </summary>
    [SkippableFact]
    public void A_served_gguf_file_is_repacked_before_the_first_request()
    {
        Skip.IfNot(QuantizedPanels.Supports(GgmlType.Q4_K) && SimdKernels.Active >= SimdWidth.Bits256, "no panel kernels on this CPU");
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide("qwen2");
        using var service = ChatService.Load(Q4_K_M(model, dir));
        var packed = service.Bundle.Model.modules().OfType<Projection>().Select(p => p.Packed!).Where(p => QuantizedPanels.Supports(p.Type)).ToList();
        Assert.NotEmpty(packed);
        Assert.All(packed, p => Assert.True(QuantizedPanels.IsBuilt(p), $"a {p.Type} [{p.Rows}, {p.Columns}] matrix was not repacked"));
    }

    public static IEnumerable<object[]> Tokenizers() => new[] { "byte", "trained", "gpt2_style", "qwen3", "deepseek_v3" }.Select(t => new object[] { t });

    /// <summary>A tokenizer exported into GGUF metadata and rebuilt from it encodes as the original tokenizer.json.</summary>
    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void TokenizerFromGgufMetadataEncodesAsTheOriginal(string name)
    {
        using var dir = new TempDir();
        var original = TokenizerTestData.Load(name);
        string tokenizerJson = TokenizerTestData.PathOf(name, "tokenizer.json"), config = TokenizerTestData.PathOf(name, "tokenizer_config.json");
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.String("llama"));
        foreach (var (key, value) in GgufTokenizerMetadata.Build(tokenizerJson, config, original.VocabSize + 3)) writer.Add(key, value);
        string path = dir.File("tokenizer.gguf");
        writer.Write(path);
        var rebuilt = GgufTokenizer.Load(GgufReader.Read(path));

        var cases = TokenizerTestData.ExpectedEncodings(name);
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            var ids = rebuilt.Encode(c.Text);
            Assert.True(c.Ids.SequenceEqual(ids), $"{name}: {TokenizerTestData.Show(c.Text)} encodes as [{string.Join(", ", ids)}], Hugging Face [{string.Join(", ", c.Ids)}]");
            Assert.Equal(original.Decode(ids), rebuilt.Decode(ids));
        }
        Assert.Equal(original.BosId, rebuilt.BosId);
        Assert.Equal(original.EosId, rebuilt.EosId);
        Assert.Equal(original.Config?.ChatTemplateText, rebuilt.Config?.ChatTemplateText);
        foreach (string special in new[] { ChatTokens.ThinkStart, ChatTokens.ThinkEnd, ChatTokens.ImStart, ChatTokens.ImEnd })
            Assert.Equal(original.TokenToId(special), rebuilt.TokenToId(special));
    }
}
