using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Generation;
using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Reference;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// Files quantized by llama.cpp's own quantizer, run by R1Sharp (packed weights, integer kernels) and by llama.cpp on
/// the same file: next-token logits within <see cref="LogitTolerance"/>, perplexity within 1%, and greedy
/// continuations of a small trained model identical for 40 tokens. A file R1Sharp quantized runs in llama.cpp with
/// the perplexity of llama.cpp's own quantization.
/// </summary>
public class QuantizedParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// Both engines multiply the same blocks by activations rounded to the same 8-bit blocks with exact integer sums,
    /// so only the order of float additions differs: where no activation lands on the other side of a rounding
    /// boundary, logits agree to ≈ 1e-6 of the largest |logit| (measured), and <see cref="ExactTolerance"/> must hold for
    /// at least one prompt of each case — a systematic difference (a matrix multiplied differently) shows on every one.
    /// When one rounding flips, the difference cascades through the later roundings to the size of the 8-bit
    /// activation noise itself (measured up to ≈ 3% of the largest |logit|): <see cref="LogitTolerance"/> bounds every prompt.
    /// </summary>
    public const double ExactTolerance = 1e-4, LogitTolerance = 5e-2;

    public static readonly string[] Families = ["llama", "qwen2", "qwen3", "deepseek_v3"];

    public static IEnumerable<object[]> Cases() =>
        from family in Families
        from type in new[] { GgufDType.Q8_0, GgufDType.Q4_0, GgufDType.Q4_K_M, GgufDType.Q5_K_M, GgufDType.Q6_K }
        select new object[] { family, type.ToString() };

    /// <summary>A fixed English text, tokenized by the test tokenizer (about 700 tokens).</summary>
    internal static IReadOnlyList<int> FixedText(string dir)
    {
        var (tokenizerPath, configPath) = TestTokenizerFiles.Write(dir);
        var tokenizer = HfTokenizer.Load(tokenizerPath, configPath);
        const string text =
            "The river runs past the old mill, where the wheel has turned for a hundred years. In the morning the " +
            "baker walks to the mill for flour, and in the evening the children walk there to watch the water. " +
            "Nobody remembers who built it; the stones are older than the town. When the rains come the river rises " +
            "and the wheel turns faster, and the miller sings an old song about the sea. ";
        return [TestTokenizerFiles.BosId, .. tokenizer.Encode(text + text)];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsAndPerplexityMatchLlamaCppOnItsOwnQuantization(string family, string typeName)
    {
        var type = Enum.Parse<GgufDType>(typeName);
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide(family, layers: 3);
        string f32 = GgufTestModels.Export(model, dir.Path);
        string quantized = dir.File("quantized.gguf");
        LlamaCppQuantizer.Quantize(f32, quantized, type);
        using var bundle = ModelBundle.Load(quantized);
        using var llama = new LlamaCppModel(quantized, contextSize: 64);

        var random = new Random(5);
        var relative = new List<double>();
        foreach (int length in new[] { 1, 2, 4, 7, 30 })
        {
            int[] prompt = [TestTokenizerFiles.BosId, .. Enumerable.Range(0, length - 1).Select(_ => random.Next(TestTokenizerFiles.TokenCount))];
            float[] theirs = llama.NextTokenLogits(prompt);
            float[] ours = GgufImportTests.CachedLogits(bundle.Model, prompt);
            double scale = Math.Max(1, theirs.Max(Math.Abs));
            double diff = theirs.Zip(ours, (t, o) => Math.Abs(t - o)).Max();
            relative.Add(diff / scale);
            Assert.True(diff <= LogitTolerance * scale, $"{family} {type}: logits differ by {diff} (scale {scale}) after {length} tokens");
        }
        Assert.True(relative.Min() <= ExactTolerance, $"{family} {type}: no prompt agrees exactly (max |Δlogit| / scale per prompt: {string.Join(", ", relative.Select(r => r.ToString("E2")))})");

        var text = FixedText(dir.Path);
        var ourPerplexity = Perplexity.Compute(bundle.Model, text, 64, TestTokenizerFiles.BosId);
        var (theirPerplexity, scored) = llama.Perplexity(text, 64, TestTokenizerFiles.BosId);
        output.WriteLine($"{family} {type}: max |Δlogit| / scale per prompt {string.Join(", ", relative.Select(r => r.ToString("E2")))}; perplexity R1Sharp {ourPerplexity.Perplexity:F4}, llama.cpp {theirPerplexity:F4} over {scored} tokens");
        Assert.Equal(scored, ourPerplexity.TokensScored);
        Assert.True(Math.Abs(ourPerplexity.Perplexity / theirPerplexity - 1) <= 0.01, $"{family} {type}: perplexity {ourPerplexity.Perplexity} vs llama.cpp {theirPerplexity}");
    }

    /// <summary>Our quantization of the f32 file loads in llama.cpp and scores as llama.cpp's own quantization does.</summary>
    [Theory]
    [InlineData("qwen2", GgufDType.Q4_K_M)]
    [InlineData("llama", GgufDType.Q8_0)]
    public void OurQuantizedFileScoresInLlamaCppAsItsOwn(string family, GgufDType type)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide(family, layers: 3);
        string f32 = GgufTestModels.Export(model, dir.Path);
        string theirs = dir.File("theirs.gguf"), ours = dir.File("ours.gguf");
        LlamaCppQuantizer.Quantize(f32, theirs, type);
        GgufQuantizer.Quantize(f32, ours, type);
        var text = FixedText(dir.Path);
        double Score(string path)
        {
            using var llama = new LlamaCppModel(path, contextSize: 64);
            return llama.Perplexity(text, 64, TestTokenizerFiles.BosId).Perplexity;
        }
        double ourScore = Score(ours), theirScore = Score(theirs);
        output.WriteLine($"{family} {type}: llama.cpp's perplexity on our file {ourScore:F4}, on its own {theirScore:F4}");
        Assert.True(Math.Abs(ourScore / theirScore - 1) <= 0.01);
    }

    /// <summary>
    /// A tiny model trained for a few seconds to continue the fixed text (so its logits are peaked, unlike a random
    /// model's), quantized by llama.cpp: greedy decoding gives the same 40 tokens on both engines.
    /// </summary>
    [Theory]
    [InlineData("llama", GgufDType.Q4_K_M)]
    [InlineData("qwen2", GgufDType.Q8_0)]
    [InlineData("deepseek_v3", GgufDType.Q4_K_M)]
    public void GreedyContinuationsOfATrainedModelMatchLlamaCpp(string family, GgufDType type)
    {
        using var dir = new TempDir();
        var text = FixedText(dir.Path);
        using var model = GgufTestModels.CreateWide(family, layers: 2);
        double loss = TrainOn(model, text);
        string f32 = GgufTestModels.Export(model, dir.Path);
        string quantized = dir.File("quantized.gguf");
        LlamaCppQuantizer.Quantize(f32, quantized, type);
        using var bundle = ModelBundle.Load(quantized);
        using var llama = new LlamaCppModel(quantized, contextSize: 128);
        var engine = new GenerationEngine(bundle.Model);
        foreach (int start in new[] { 1, 40, 97 })
        {
            int[] prompt = [TestTokenizerFiles.BosId, .. text.Skip(start).Take(12)];
            var ours = engine.Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 40 })])[0][0].TokenIds;
            var theirs = llama.Greedy(prompt, 40);
            output.WriteLine($"{family} {type} (loss {loss:F3}), from {start}:\n  R1Sharp  : {string.Join(' ', ours)}\n  llama.cpp: {string.Join(' ', theirs)}");
            Assert.Equal(theirs, ours);
        }
    }

    /// <summary>Next-token training on windows of <paramref name="text"/> until the loss is small; returns the last loss.</summary>
    static double TrainOn(CausalLanguageModel model, IReadOnlyList<int> text)
    {
        const int length = 64, batch = 4;
        manual_seed(3);
        model.train();
        using var optimizer = AdamWSetup.Create(model, learningRate: 3e-3, weightDecay: 0);
        var random = new Random(1);
        double last = double.NaN;
        for (int step = 0; step < 80; step++)
        {
            using var scope = NewDisposeScope();
            var ids = new long[batch * length];
            var targets = new long[batch * length];
            for (int b = 0; b < batch; b++)
            {
                int at = random.Next(text.Count - length - 1);
                for (int t = 0; t < length; t++)
                {
                    ids[b * length + t] = text[at + t];
                    targets[b * length + t] = text[at + t + 1];
                }
            }
            optimizer.zero_grad();
            var loss = LanguageModelLoss.Compute(model.Forward(tensor(ids).view(batch, length)), tensor(targets).view(batch, length));
            loss.backward();
            optimizer.step();
            last = loss.item<float>();
            if (last < 0.3) break; // peaked enough that greedy choices are not near-ties
        }
        model.eval();
        return last;
    }
}
