using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Gguf;
using R1Sharp.Reference;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// An exported GGUF file run by llama.cpp (through LLamaSharp) must compute what R1Sharp computes: the same
/// next-token logits within <see cref="LogitTolerance"/> and the same greedy continuation, token for token.
/// </summary>
public class LlamaCppParityTests(ITestOutputHelper output)
{
    /// <summary>Max |Δlogit| allowed, relative to the largest |logit| (at least 1): both sides compute in float32.</summary>
    public const double LogitTolerance = 1e-4;
    const int NewTokens = 40;

    static List<int[]> Prompts()
    {
        var random = new Random(11);
        return new[] { 1, 6, 19 }.Select(n => Enumerable.Range(0, n).Select(_ => random.Next(TestTokenizerFiles.TokenCount)).ToArray()).ToList();
    }

    [Theory]
    [MemberData(nameof(VariantData))]
    public void LogitsAndGreedyContinuationsMatchLlamaCpp(string variant)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create(variant);
        string gguf = GgufTestModels.Export(model, dir.Path);
        using var llama = new LlamaCppModel(gguf);
        Assert.Equal(model.Config.VocabSize, llama.VocabSize);

        var engine = new GenerationEngine(model);
        var generated = new HashSet<int>();
        foreach (var prompt in Prompts())
        {
            float[] expected;
            using (var ids = tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1))
            using (var logits = model.Forward(ids))
                expected = logits[0, -1].data<float>().ToArray();
            float[] actual = llama.NextTokenLogits(prompt);
            double scale = Math.Max(1, expected.Max(Math.Abs));
            double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            output.WriteLine($"{variant}, prompt of {prompt.Length}: max |logit| {scale:F3}, max |Δ| {maxDiff:E2}");
            Assert.True(maxDiff <= LogitTolerance * scale, $"{variant}: logits differ by {maxDiff} (scale {scale}) after a prompt of {prompt.Length} tokens");

            var ours = engine.Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = NewTokens, Seed = 0 })])[0][0].TokenIds;
            var theirs = llama.Greedy(prompt, NewTokens);
            output.WriteLine($"  R1Sharp  : {string.Join(' ', ours)}");
            output.WriteLine($"  llama.cpp: {string.Join(' ', theirs)}");
            Assert.Equal(ours, theirs);
            generated.UnionWith(ours);
        }
        // Random tiny models fall into loops; enough distinct tokens overall shows the check is not trivial.
        Assert.True(generated.Count >= 10, $"{variant}: only {generated.Count} distinct tokens generated");
    }

    /// <summary>An F16 file loads too; its logits move by the rounding of the weights to half precision.</summary>
    [Fact]
    public void F16ExportRunsInLlamaCppWithinHalfPrecision()
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.Create("llama");
        using var llama = new LlamaCppModel(GgufTestModels.Export(model, dir.Path, R1Sharp.Gguf.GgufDType.F16));
        Assert.Equal("1", llama.Metadata["general.file_type"]);
        var prompt = Prompts()[2];
        float[] expected;
        using (var ids = tensor(prompt.Select(i => (long)i).ToArray()).view(1, -1))
        using (var logits = model.Forward(ids))
            expected = logits[0, -1].data<float>().ToArray();
        float[] actual = llama.NextTokenLogits(prompt);
        double scale = Math.Max(1, expected.Max(Math.Abs));
        double maxDiff = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        output.WriteLine($"f16: max |logit| {scale:F3}, max |Δ| {maxDiff:E2}");
        Assert.True(maxDiff <= 2e-2 * scale, $"f16 logits differ by {maxDiff} (scale {scale})");
        Assert.True(maxDiff > 0, "an f16 file should not reproduce f32 logits exactly");
    }

    public static IEnumerable<object[]> VariantData() => GgufTestModels.Variants.Select(v => new object[] { v });
}
