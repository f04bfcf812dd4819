using R1Sharp.Generation;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Inference;

/// <summary>
/// The engine's CPU kernels against the model's libtorch path (<see cref="ForwardRunner.UseCpuKernels"/> = false):
/// the same logits to float32 rounding, the same cache contents, and the same generated tokens, at every SIMD width
/// this machine runs (each test forces one width and restores the setting when it ends).
/// </summary>
public class CpuInferenceTests
{
    const double Tolerance = 1e-4;

    public static IEnumerable<object[]> Variants() =>
        [["llama"], ["qwen2"], ["qwen3"], ["qwen3-bias-untied-yarn"], ["llama-bias-tied-scaled"], ["odd-sizes"], ["wide-groups"]];

    public static IEnumerable<object[]> VariantsAndWidths() => SimdWidths.Times(Variants());

    public static IEnumerable<object[]> Widths() => SimdWidths.Each();

    /// <summary>
    /// Tiny models of each GQA variant; "odd-sizes" has widths off the kernels' tile and vector sizes and K over one
    /// block, "wide-groups" 128-wide heads in groups of five (the value kernels' 4-head and 1-head paths). The qwen3 ones
    /// have per-head q/k norms and heads wider than hidden / heads (q width 2 × hidden, as Qwen3-0.6B's).
    /// </summary>
    static CausalLanguageModel Create(string variant)
    {
        var model = variant switch
        {
            "llama" => TinyModels.Create(ModelFamily.Llama),
            "qwen2" => TinyModels.Create(ModelFamily.Qwen2),
            "qwen3" => TinyModels.Create(ModelFamily.Qwen3),
            "qwen3-bias-untied-yarn" => TinyModels.Create(ModelFamily.Qwen3, edit: c => c with
            {
                AttentionBias = true, TieWordEmbeddings = false, RopeScaling = new RopeScaling("yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32),
            }),
            "llama-bias-tied-scaled" => TinyModels.Create(ModelFamily.Llama, edit: c => c with
            {
                AttentionBias = true, TieWordEmbeddings = true,
                RopeScaling = new RopeScaling("llama3", Factor: 8, OriginalMaxPositionEmbeddings: 32, LowFreqFactor: 1, HighFreqFactor: 4),
            }),
            "odd-sizes" => TinyModels.Create(ModelFamily.Qwen2, edit: c => c with
            {
                HiddenSize = 168, NumAttentionHeads = 6, NumKeyValueHeads = 3, HeadDim = 40, IntermediateSize = 1030, VocabSize = 301,
            }),
            "wide-groups" => TinyModels.Create(ModelFamily.Llama, edit: c => c with
            {
                HiddenSize = 128, NumAttentionHeads = 10, NumKeyValueHeads = 2, HeadDim = 128, IntermediateSize = 256,
            }),
            _ => throw new ArgumentException(variant),
        };
        using (no_grad())
        {
            // Random norms and biases, so a misplaced or skipped one shows.
            torch.manual_seed(3);
            foreach (var (name, p) in model.HfStateDict())
                if (name.EndsWith("norm.weight") || name.EndsWith(".bias")) p.add_(randn_like(p) * 0.2);
        }
        return model;
    }

    [SkippableTheory]
    [MemberData(nameof(VariantsAndWidths))]
    public void Prefill_of_a_padded_batch_and_decode_steps_match_libtorch(string variant, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        using var simd = SimdKernels.Force(width);
        using var model = Create(variant);
        using var _ = inference_mode();
        const int prompt = 21, steps = 6;
        var ids = randint(model.Config.VocabSize, [3, prompt + steps], dtype: int64, generator: new Generator(9));
        var mask = ones(3, prompt + steps, dtype: int64);
        mask[1, TensorIndex.Slice(0, 5)] = tensor(0L);  // left padding
        mask[2, TensorIndex.Slice(0, 20)] = tensor(0L); // one real prompt token

        var profile = new InferenceProfile();
        var runner = ForwardRunner.For(model);
        var results = new[] { true, false }.Select(kernels =>
        {
            runner.UseCpuKernels = kernels;
            runner.Profile = kernels ? profile : null;
            var cache = KvCache.Create(model.Config, 3, prompt + steps, CPU);
            var m = mask.narrow(1, 0, prompt);
            var logits = new List<Tensor> { runner.Forward(ids.narrow(1, 0, prompt), CausalLanguageModel.PositionsFromMask(m), m, cache, allPositions: true) };
            for (int i = prompt; i < prompt + steps; i++)
            {
                m = mask.narrow(1, 0, i + 1);
                logits.Add(runner.Forward(ids.narrow(1, i, 1), CausalLanguageModel.PositionsFromMask(m).narrow(1, i, 1), m, cache));
            }
            return (Logits: logits, Cache: cache);
        }).ToList();
        runner.UseCpuKernels = true;
        Assert.Equal(1 + steps, profile.Forwards); // the kernels did run, at the forced width

        var (ours, reference) = (results[0], results[1]);
        for (int i = 0; i < ours.Logits.Count; i++) AssertClose(reference.Logits[i], ours.Logits[i]);
        Assert.Equal(reference.Cache.Length, ours.Cache.Length);
        for (int layer = 0; layer < model.Config.NumHiddenLayers; layer++)
        {
            AssertClose(reference.Cache.Layer(layer).First, ours.Cache.Layer(layer).First);
            AssertClose(reference.Cache.Layer(layer).Second, ours.Cache.Layer(layer).Second);
        }
        Assert.False(ours.Logits[0].isnan().any().item<bool>());
        ours.Cache.Dispose();
        reference.Cache.Dispose();
    }

    [SkippableTheory]
    [MemberData(nameof(VariantsAndWidths))]
    public void Forward_into_a_reused_buffer_equals_forward(string variant, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        using var simd = SimdKernels.Force(width);
        using var model = Create(variant);
        using var _ = inference_mode();
        var ids = randint(model.Config.VocabSize, [2, 8], dtype: int64, generator: new Generator(4));
        using var a = KvCache.Create(model.Config, 2, 8, CPU);
        using var b = KvCache.Create(model.Config, 2, 8, CPU);
        var logits = full(2, model.Config.VocabSize, float.NaN);
        for (int i = 0; i < 8; i++)
        {
            var step = ids.narrow(1, i, 1);
            var position = full(2, 1, i, int64);
            var expected = ForwardRunner.For(model).Forward(step, position, null, a);
            ForwardRunner.For(model).ForwardInto(step, position, null, b, logits);
            AssertClose(expected, logits);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Widths))]
    public void Kernels_follow_weights_updated_in_place_and_replaced(SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        using var simd = SimdKernels.Force(width);
        using var model = Create("qwen2");
        var ids = tensor(new long[] { 5, 6, 7, 8 }).view(1, 4);
        Tensor Logits(bool kernels)
        {
            ForwardRunner.For(model).UseCpuKernels = kernels;
            using var _ = inference_mode();
            using var cache = KvCache.Create(model.Config, 1, 4, CPU);
            return ForwardRunner.For(model).Forward(ids, arange(4).view(1, 4), null, cache);
        }
        var before = Logits(true);
        using (no_grad())
            foreach (var (_, p) in model.HfStateDict()) p.add_(randn_like(p) * 0.05); // an optimizer step, in place
        var afterStep = Logits(true);
        AssertClose(Logits(false), afterStep);
        Assert.True((afterStep - before).abs().max().item<float>() > 1e-3);

        model.to(ScalarType.Float64).to(ScalarType.Float32); // every parameter is a new tensor now
        using (no_grad())
            foreach (var (_, p) in model.HfStateDict()) p.add_(randn_like(p) * 0.05);
        AssertClose(Logits(false), Logits(true));
    }

    [SkippableTheory]
    [MemberData(nameof(Widths))]
    public void A_decode_step_allocates_next_to_nothing(SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        using var simd = SimdKernels.Force(width);
        using var model = Create("llama-bias-tied-scaled");
        using var _ = inference_mode();
        using var cache = KvCache.Create(model.Config, 2, 40, CPU);
        using var prompt = randint(model.Config.VocabSize, [2, 8], dtype: int64, generator: new Generator(2));
        using var promptPositions = arange(8).unsqueeze(0).expand(2, -1);
        var runner = ForwardRunner.For(model);
        runner.Forward(prompt, promptPositions, null, cache).Dispose();
        using var next = zeros(2, 1, int64);
        using var position = full(2, 1, 8, int64);
        using var logits = empty(2, model.Config.VocabSize);
        var sampler = new TokenSampler();
        SamplingOptions[] options = [new SamplingOptions { Temperature = 1 }, new SamplingOptions { Temperature = 0 }];
        double[] uniforms = [0.25, 0.75];
        var tokens = new long[2];
        var logProbs = new float[2];
        void Step()
        {
            runner.ForwardInto(next, position, null, cache, logits);
            sampler.Sample(logits, options, uniforms, tokens, logProbs);
        }
        Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Step();
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / 20;
        // What is left is TorchSharp's fresh wrapper of the embedding weight, disposed at once.
        Assert.True(perStep <= 256, $"a decode step allocated {perStep} managed bytes");
    }

    [Fact]
    public void Width_zero_sends_the_cached_forward_to_libtorch()
    {
        using var model = Create("qwen2");
        using var _ = inference_mode();
        var profile = new InferenceProfile();
        ForwardRunner.For(model).Profile = profile;
        using (SimdKernels.Force(SimdWidth.None))
        {
            using var cache = KvCache.Create(model.Config, 1, 4, CPU);
            ForwardRunner.For(model).Forward(tensor(new long[] { 1, 2, 3 }).view(1, 3), arange(3).view(1, 3), null, cache).Dispose();
        }
        Assert.Equal(0, profile.Forwards);
    }

    [Fact]
    public void With_gradients_enabled_the_cached_forward_stays_differentiable()
    {
        using var model = Create("llama");
        using var cache = KvCache.Create(model.Config, 1, 4, CPU);
        var logits = ForwardRunner.For(model).Forward(tensor(new long[] { 1, 2, 3 }).view(1, 3), arange(3).view(1, 3), null, cache);
        Assert.True(logits.requires_grad);
    }

    [SkippableTheory]
    [MemberData(nameof(VariantsAndWidths))]
    public void Generated_tokens_and_log_probs_are_unchanged(string variant, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        using var simd = SimdKernels.Force(width);
        using var model = Create(variant);
        var engine = new GenerationEngine(model);
        int vocab = model.Config.VocabSize;
        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 12 };
        var sampled = new SamplingOptions { Temperature = 0.8, TopP = 0.9, MaxNewTokens = 12, Seed = 5 };
        GenerationRequest[] requests =
        [
            new([1, 2, 3, 4, 5, 6, 7], greedy),
            new([9 % vocab, 200 % vocab], greedy with { MaxNewTokens = 5 }),
            new([11, 12, 13], sampled, NumSamples: 3),
        ];
        var withKernels = engine.Generate(requests);
        ForwardRunner.For(model).UseCpuKernels = false;
        var reference = engine.Generate(requests);
        for (int r = 0; r < requests.Length; r++)
            for (int s = 0; s < requests[r].NumSamples; s++)
            {
                Assert.Equal(reference[r][s].TokenIds, withKernels[r][s].TokenIds);
                for (int i = 0; i < reference[r][s].LogProbs.Length; i++)
                    Assert.Equal(reference[r][s].LogProbs[i], withKernels[r][s].LogProbs[i], 3);
            }
    }

    static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= Tolerance * scale, $"max |Δ| {diff} exceeds {Tolerance} × {scale}");
    }
}
