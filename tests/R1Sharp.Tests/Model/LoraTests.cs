using R1Sharp.Inference;
using R1Sharp.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Model;

/// <summary>LoRA adapters on the model: what a fresh one changes (nothing), the CPU kernels and MLA's absorbed attention
/// against the hooks, merging, and gradient checkpointing against the plain backward.</summary>
public class LoraTests
{
    /// <summary>An adapter with B random too (a fresh one has B = 0 and changes nothing).</summary>
    internal static LoraAdapter TrainedLookingAdapter(CausalLanguageModel model, LoraSettings? settings = null, int seed = 7)
    {
        var adapter = LoraAdapter.Create(model, settings ?? new LoraSettings(Rank: 4, Alpha: 8), "base", seed);
        using var _ = no_grad();
        var generator = new Generator((ulong)seed + 1);
        foreach (var (_, layer) in adapter.Layers) layer.B.copy_(randn(layer.B.shape, generator: generator) * 0.1);
        return adapter;
    }

    static Tensor Ids(int rows = 2, int length = 9) => randint(TinyModels.Vocab, [rows, length], dtype: int64, generator: new Generator(4));

    static Tensor Logits(CausalLanguageModel model, Tensor ids)
    {
        using var _ = no_grad();
        return model.Forward(ids);
    }

    /// <summary>Every position's logits through the engine's cached forward (CPU kernels where they run).</summary>
    internal static Tensor CachedLogits(CausalLanguageModel model, Tensor ids, bool kernels)
    {
        using var _ = inference_mode();
        var runner = ForwardRunner.For(model);
        runner.UseCpuKernels = kernels;
        try
        {
            using var cache = KvCache.Create(model.Config, (int)ids.shape[0], (int)ids.shape[1], CPU);
            var positions = arange(ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1);
            return runner.Forward(ids, positions, null, cache, allPositions: true);
        }
        finally
        {
            runner.UseCpuKernels = true;
        }
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static void AssertClose(Tensor expected, Tensor actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = Math.Max(1, expected.abs().max().item<float>());
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= tolerance * scale, $"max |Δ| {diff} exceeds {tolerance} × {scale}");
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void A_fresh_adapter_leaves_every_output_unchanged(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var ids = Ids();
        var baseLogits = Logits(model, ids);
        var baseCached = CachedLogits(model, ids, kernels: true);
        var baseReference = CachedLogits(model, ids, kernels: false);
        using var adapter = LoraAdapter.Create(model, new LoraSettings(8, 16), "base", seed: 1).Activate();
        Assert.All(adapter.Layers, l => Assert.Equal(0, l.Layer.B.abs().sum().item<float>()));
        // The adapter's parameters are its pairs alone, not the base's.
        Assert.Equal(2 * adapter.Paths.Count, adapter.parameters().Count());
        Assert.True(Same(baseLogits, Logits(model, ids)));
        Assert.True(Same(baseCached, CachedLogits(model, ids, kernels: true)));
        Assert.True(Same(baseReference, CachedLogits(model, ids, kernels: false)));
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Active_adapter_changes_the_logits_and_the_cached_forwards_agree_with_the_hooks(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var ids = Ids();
        var baseLogits = Logits(model, ids);
        using var adapter = TrainedLookingAdapter(model).Activate();
        var adapted = Logits(model, ids);
        Assert.True((adapted - baseLogits).abs().max().item<float>() > 1e-3, "the adapter changed nothing");
        // The CPU kernels' low-rank products (llama/qwen), and MLA's absorbed attention (deepseek_v3), against the hooks.
        AssertClose(adapted, CachedLogits(model, ids, kernels: true));
        AssertClose(adapted, CachedLogits(model, ids, kernels: false));
        // Switched off: the base again, in both paths.
        using (LoraAdapter.Use(model, null))
        {
            AssertClose(baseLogits, Logits(model, ids), 0);
            AssertClose(baseLogits, CachedLogits(model, ids, kernels: true));
        }
        Assert.Same(adapter, LoraAdapter.ActiveOn(model));
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Merged_weights_give_the_adapters_logits(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var ids = Ids();
        using var adapter = TrainedLookingAdapter(model, new LoraSettings(4, 8, UseRslora: true)).Activate();
        var adapted = Logits(model, ids);
        adapter.MergeIntoModel();
        Assert.Null(LoraAdapter.ActiveOn(model));
        AssertClose(adapted, Logits(model, ids));
    }

    [Fact]
    public void Target_modules_pick_projections_by_name_or_regex_and_none_is_an_error()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var byName = LoraAdapter.Targets(model, LoraTargetModules.Parse("q_proj,v_proj")).Select(t => t.Path).ToList();
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"], byName);
        var byRegex = LoraAdapter.Targets(model, LoraTargetModules.Parse(@".*\.1\.mlp\.(gate|up)_proj")).Select(t => t.Path).ToList();
        Assert.Equal(["model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj"], byRegex);
        Assert.Equal(14, LoraAdapter.Targets(model, LoraTargetModules.AllLinear).Count); // 7 per layer, never lm_head
        var error = Assert.Throws<R1Error>(() => LoraAdapter.Targets(model, LoraTargetModules.Parse("lm_head")));
        Assert.Contains("matches no projection", error.Message);
        Assert.Throws<R1Error>(() => LoraTargetModules.Parse("(unclosed"));
        Assert.Throws<R1Error>(() => new LoraSettings(0, 8).Validate());
    }

    /// <summary>Gradients of a loss over <paramref name="model"/> (of the adapter's tensors when one is active, else of every parameter).</summary>
    static List<Tensor> Gradients(CausalLanguageModel model, LoraAdapter? adapter, Tensor ids, bool checkpointing)
    {
        model.GradientCheckpointing = checkpointing;
        model.train();
        torch.manual_seed(11); // the same LoRA dropout masks in both runs
        var trained = adapter is null ? model.parameters().ToList() : adapter.parameters().ToList();
        foreach (var p in trained) p.grad?.zero_();
        var logits = model.Forward(ids);
        nn.functional.cross_entropy(logits.narrow(1, 0, ids.shape[1] - 1).reshape(-1, logits.shape[^1]), ids.narrow(1, 1, ids.shape[1] - 1).reshape(-1)).backward();
        model.GradientCheckpointing = false;
        return trained.Select(p => p.grad?.clone() ?? zeros_like(p)).ToList(); // e.g. a routing bias has none
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Gradient_checkpointing_gives_the_gradients_of_the_plain_backward(ModelFamily family)
    {
        var ids = Ids(length: 12);
        // Full fine-tuning: every parameter's gradient.
        using (var model = TinyModels.Create(family))
        {
            var plain = Gradients(model, null, ids, checkpointing: false);
            var checkpointed = Gradients(model, null, ids, checkpointing: true);
            foreach (var (p, c) in plain.Zip(checkpointed)) AssertClose(p, c, 1e-5);
        }
        // LoRA with dropout over a frozen base: the recompute draws the same dropout masks; the base gets no gradient.
        using (var model = TinyModels.Create(family))
        {
            foreach (var p in model.parameters()) p.requires_grad = false;
            using var adapter = TrainedLookingAdapter(model, new LoraSettings(4, 8, Dropout: 0.2)).Activate();
            var plain = Gradients(model, adapter, ids, checkpointing: false);
            // Every pair learns (but a routed expert that got no token this batch).
            Assert.All(adapter.Layers.Where(l => !l.Path.Contains(".experts.")), l => Assert.True(l.Layer.B.grad!.abs().sum().item<float>() > 0, l.Path));
            var checkpointed = Gradients(model, adapter, ids, checkpointing: true);
            foreach (var (p, c) in plain.Zip(checkpointed)) AssertClose(p, c, 1e-5);
            Assert.All(model.parameters(), p => Assert.Null(p.grad));
        }
    }
}
