using R1Sharp.Checkpoints;
using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// A LoRA adapter over a quantized (packed) model: it runs beside the packed weights, in the CPU kernels and in the
/// libtorch path (MLA's absorbed attention adds B·A to the dequantized kv_b_proj); training or merging one needs float
/// weights and is refused with an error that says so.
/// </summary>
public class QuantizedLoraTests
{
    static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Theory]
    [InlineData("llama")]
    [InlineData("deepseek_v3")]
    public void An_adapter_runs_over_a_quantized_model_and_training_or_merging_one_is_refused(string variant)
    {
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide(variant, layers: 2);
        var ids = randint(TinyModels.Vocab, [2, 7], dtype: int64, generator: new Generator(3));
        Tensor floatBase, floatAdapted;
        using (no_grad()) floatBase = model.Forward(ids);
        using (var adapter = LoraTests.TrainedLookingAdapter(model).Activate())
        {
            using (no_grad()) floatAdapted = model.Forward(ids);
            PeftAdapter.Save(adapter, dir.File("adapter"));
        }
        string path = GgufTestModels.Export(model, dir.Path, GgufDType.Q8_0);

        using var bundle = ModelBundle.Load(path, adapterDir: dir.File("adapter"));
        var quantized = bundle.Model;
        Assert.True(quantized.IsPacked);
        Tensor quantizedBase, quantizedAdapted;
        using (no_grad())
        {
            quantizedAdapted = quantized.Forward(ids);
            using (LoraAdapter.Use(quantized, null)) quantizedBase = quantized.Forward(ids);
        }
        // The adapter moves the quantized model's logits as it moves the float model's, up to Q8_0's rounding.
        double effect = MaxDiff(floatAdapted, floatBase);
        Assert.True(effect > 1e-2, $"the adapter changed nothing ({effect})");
        Assert.True(MaxDiff(quantizedAdapted, quantizedBase) > effect / 2, "the adapter is not applied over the packed weights");
        Assert.True(MaxDiff(quantizedAdapted, floatAdapted) < effect / 4,
            $"quantized + adapter {MaxDiff(quantizedAdapted, floatAdapted)} from float + adapter (the adapter's effect: {effect})");
        // The cached forward applies it too: the CPU kernels (llama) as the hooks do; MLA's absorbed attention (deepseek)
        // rounds activations as llama.cpp does for quantized attn_k_b/attn_v_b, which the uncached path does not, so
        // there the adapter's effect is what is compared.
        var cachedAdapted = LoraTests.CachedLogits(quantized, ids, kernels: true);
        Tensor cachedBase;
        using (LoraAdapter.Use(quantized, null)) cachedBase = LoraTests.CachedLogits(quantized, ids, kernels: true);
        if (variant == "llama")
            Assert.True(MaxDiff(quantizedAdapted, cachedAdapted) < 1e-3 * Math.Max(1, quantizedAdapted.abs().max().item<float>()),
                $"the CPU kernels' adapter differs from the hooks' by {MaxDiff(quantizedAdapted, cachedAdapted)}");
        else
            Assert.True(MaxDiff(cachedAdapted, cachedBase) > effect / 2, "the adapter is not applied in the absorbed attention over packed weights");

        var training = Assert.Throws<R1Error>(() => LoraAdapter.Create(quantized, new LoraSettings(4, 8), "base", seed: 1));
        Assert.Contains("quantized model", training.Message);
        var merging = Assert.Throws<R1Error>(() => bundle.Adapter!.MergeIntoModel());
        Assert.Contains("quantized model", merging.Message);
        Assert.Same(bundle.Adapter, LoraAdapter.ActiveOn(quantized)); // a refused merge leaves the adapter as it was
    }
}
