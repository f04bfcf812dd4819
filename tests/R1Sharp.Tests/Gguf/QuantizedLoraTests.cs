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
    static double MeanDiff(Tensor a, Tensor b) => (a - b).abs().mean().item<float>();

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
        // The adapter moves the quantized model's logits as it moves the float model's, up to the rounding of Q8_0 weights
        // and of the activations multiplied with them. Mean differences: rounding an activation to 8 bits is a step, so
        // two paths whose floats differ in the last bit can round one value differently and move that row's logits by a
        // few hundredths — a whole row, rarely; the mean stays far below what a missing or wrong adapter would move.
        double effect = MeanDiff(floatAdapted, floatBase);
        Assert.True(effect > 1e-2, $"the adapter changed nothing ({effect})");
        Assert.True(MeanDiff(quantizedAdapted, quantizedBase) > effect / 2, "the adapter is not applied over the packed weights");
        Assert.True(MeanDiff(quantizedAdapted, floatAdapted) < effect / 4,
            $"quantized + adapter is {MeanDiff(quantizedAdapted, floatAdapted)} from float + adapter on average (the adapter's effect: {effect})");
        // The cached forward applies it too: the CPU kernels (llama) as the hooks do, and MLA's absorbed attention (deepseek,
        // which a quantized file runs cached or not) adds it to the dequantized kv_b_proj.
        var cachedAdapted = LoraTests.CachedLogits(quantized, ids, kernels: true);
        Assert.True(MeanDiff(quantizedAdapted, cachedAdapted) < effect / 100,
            $"the cached forward's adapter differs from the hooks' by {MeanDiff(quantizedAdapted, cachedAdapted)} on average (the adapter's effect: {effect})");

        var training = Assert.Throws<R1Error>(() => LoraAdapter.Create(quantized, new LoraSettings(4, 8), "base", seed: 1));
        Assert.Contains("quantized model", training.Message);
        var merging = Assert.Throws<R1Error>(() => bundle.Adapter!.MergeIntoModel());
        Assert.Contains("quantized model", merging.Message);
        Assert.Same(bundle.Adapter, LoraAdapter.ActiveOn(quantized)); // a refused merge leaves the adapter as it was
    }
}
