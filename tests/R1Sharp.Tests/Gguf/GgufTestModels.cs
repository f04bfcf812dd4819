using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Gguf;

/// <summary>Tiny random models for GGUF tests, with every parameter (norms and biases too) random so a misplaced tensor shows.</summary>
public static class GgufTestModels
{
    public static readonly string[] Variants = ["llama", "qwen2", "qwen3", "qwen3-untied", "llama-bias-rope-scaling", "deepseek_v3", "deepseek_v3-yarn"];

    public static CausalLanguageModel Create(string variant, int seed = 7)
    {
        var (family, edit) = variant switch
        {
            "llama" => (ModelFamily.Llama, (Func<ModelConfig, ModelConfig>)(c => c)),
            "qwen2" => (ModelFamily.Qwen2, c => c),
            // Per-head q/k norms, heads of 32 over a width of 64 (q is twice as wide as the residual stream), tied or not.
            "qwen3" => (ModelFamily.Qwen3, c => c),
            "qwen3-untied" => (ModelFamily.Qwen3, c => c with { TieWordEmbeddings = false }),
            // Llama-3.1 rope scaling with a short original context so the scaling changes most frequencies.
            "llama-bias-rope-scaling" => (ModelFamily.Llama, c => c with
            {
                AttentionBias = true, TieWordEmbeddings = true,
                RopeScaling = new RopeScaling("llama3", Factor: 8, OriginalMaxPositionEmbeddings: 32, LowFreqFactor: 1, HighFreqFactor: 4),
            }),
            // MLA with a q LoRA, one dense layer then MoE (8 routed experts in 4 groups, top-2 of 2 groups, 1 shared).
            "deepseek_v3" => (ModelFamily.DeepseekV3, c => c),
            "deepseek_v3-yarn" => (ModelFamily.DeepseekV3, c => c with
            {
                TieWordEmbeddings = true,
                RopeScaling = new RopeScaling("yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32, Mscale: 1, MscaleAllDim: 1),
            }),
            _ => throw new ArgumentException(variant),
        };
        // A wider init than HF's 0.02 spreads the logits, so greedy choices are not near-ties.
        var model = TinyModels.Create(family, seed, c => edit(c) with { InitializerRange = 0.1 });
        using (no_grad())
        {
            torch.manual_seed(seed + 1);
            foreach (var (name, p) in model.HfStateDict())
            {
                if (name.EndsWith("norm.weight")) p.add_(randn_like(p) * 0.2);
                else if (name.EndsWith(".bias")) p.add_(randn_like(p) * 0.1);
                else if (name.EndsWith("e_score_correction_bias")) p.add_(randn_like(p) * 0.05); // steers expert choice only
            }
        }
        return model;
    }

    /// <summary>
    /// <see cref="Create"/>'s variant with matrices whose rows are whole 256-value blocks (hidden 256, MLP 512), so the
    /// K-quants apply, and <paramref name="layers"/> layers, so a Q4_K_M mix has layers of both kinds. DeepSeek's
    /// smaller MLA and expert widths (32, 64) take the mixes' fallback types.
    /// </summary>
    public static CausalLanguageModel CreateWide(string variant, int layers = 4, int seed = 7)
    {
        var family = variant.StartsWith("deepseek") ? ModelFamily.DeepseekV3
            : variant == "qwen2" ? ModelFamily.Qwen2 : variant.StartsWith("qwen3") ? ModelFamily.Qwen3 : ModelFamily.Llama;
        var model = TinyModels.Create(family, seed, c => c with
        {
            HiddenSize = 256, IntermediateSize = 512, NumHiddenLayers = layers, InitializerRange = 0.1,
            QLoraRank = family == ModelFamily.DeepseekV3 ? 256 : null, KvLoraRank = 64, QkNopeHeadDim = 32, QkRopeHeadDim = 16, VHeadDim = 32,
            MoeIntermediateSize = family == ModelFamily.DeepseekV3 ? 64 : 0,
        });
        using (no_grad())
        {
            torch.manual_seed(seed + 1);
            foreach (var (name, p) in model.HfStateDict())
                if (name.EndsWith("norm.weight")) p.add_(randn_like(p) * 0.2);
                else if (name.EndsWith(".bias")) p.add_(randn_like(p) * 0.1);
        }
        return model;
    }

    /// <summary>Exports <paramref name="model"/> with the test tokenizer into <paramref name="dir"/>; returns the GGUF path.</summary>
    public static string Export(CausalLanguageModel model, string dir, GgufDType dtype = GgufDType.F32)
    {
        var (tokenizer, config) = TestTokenizerFiles.Write(dir);
        string path = Path.Combine(dir, "model.gguf");
        GgufExporter.Export(model, tokenizer, config, path, dtype);
        return path;
    }
}
