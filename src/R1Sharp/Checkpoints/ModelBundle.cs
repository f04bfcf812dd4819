using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// What a model directory or GGUF file holds for running it: the model, its tokenizer and its chat template (from
/// tokenizer_config.json or the GGUF metadata; R1's template when none is named) — and the LoRA adapter active on the
/// model, if one was loaded with it (<c>--adapter</c>) or is being trained. <see cref="Directory"/> is the directory or
/// file it came from.
/// </summary>
public sealed record ModelBundle(CausalLanguageModel Model, HfTokenizer Tokenizer, ChatTemplate Template, string Directory) : IDisposable
{
    /// <summary>The LoRA adapter every forward of <see cref="Model"/> applies, or null; disposed with the bundle.</summary>
    public LoraAdapter? Adapter { get; init; }

    /// <summary>The weights generation reads (`--precision`) and why: fp32, or bf16 copies (<see cref="GenerationPrecision"/>).</summary>
    public PrecisionChoice WeightPrecision { get; init; } = PrecisionChoice.Fp32;

    /// <param name="dir">A model directory (config.json, weights, tokenizer.json) or a .gguf file (weights kept as stored, CPU only).</param>
    /// <param name="quantize">Quantize a model directory's weights at load to this GGUF type (`--quantize`); CPU only.</param>
    /// <param name="adapterDir">A PEFT LoRA adapter folder to load over the model, active.</param>
    /// <param name="precision">The weights generation reads (`--precision` fp32, bf16 or auto; <see cref="GenerationPrecision"/>).</param>
    public static ModelBundle Load(string dir, Device? device = null, GgufDType? quantize = null, string? adapterDir = null,
        Precision precision = Precision.Fp32)
    {
        var bundle = LoadAsStored(dir, device, quantize, adapterDir);
        if (precision == Precision.Fp32) return bundle;
        try
        {
            return bundle with { WeightPrecision = GenerationPrecision.Apply(bundle.Model, precision) };
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }

    static ModelBundle LoadAsStored(string dir, Device? device, GgufDType? quantize, string? adapterDir)
    {
        bool isGguf = GgufModelLoader.IsGgufFile(dir);
        if (quantize is not null && (isGguf || device is not null && device.type != DeviceType.CPU))
            throw new R1Error($"{dir}: --quantize applies to a model directory run on the CPU (a GGUF file runs as stored; `r1 quantize` converts one)");
        if (isGguf)
        {
            if (device is not null && device.type != DeviceType.CPU) throw new R1Error($"{dir}: GGUF models run on the CPU");
            var (gguf, ggufTokenizer) = GgufModelLoader.Load(dir);
            return Bundle(gguf, ggufTokenizer, dir, null, adapterDir);
        }
        // Config, weights' headers and tokenizer are all checked before the model is allocated.
        var (modelConfig, _) = ModelCheckpoint.Check(dir);
        var tokenizer = TokenizerLoader.Load(dir);
        if (tokenizer.VocabSize > modelConfig.VocabSize)
            throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {modelConfig.VocabSize}");
        return Bundle(quantize is { } type ? Quantized(dir, type) : ModelCheckpoint.Load(dir, device), tokenizer, dir, device, adapterDir);
    }

    /// <summary>
    /// A model directory's weights quantized as `r1 export gguf --dtype` writes them: exported to a temporary GGUF file,
    /// mapped back and the file unlinked, so the model runs as that downloaded file would (same blocks, same kernels).
    /// </summary>
    static CausalLanguageModel Quantized(string dir, GgufDType type)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"r1-quantize-{Guid.NewGuid():N}.gguf");
        try
        {
            using (var model = ModelCheckpoint.Load(dir))
                GgufExporter.Export(model, Path.Combine(dir, "tokenizer.json"), Path.Combine(dir, "tokenizer_config.json"), temp, type);
            return GgufModelLoader.LoadModel(GgufReader.Read(temp));
        }
        finally
        {
            try { File.Delete(temp); } catch (IOException) { } // on Linux the mapping outlives the name
        }
    }

    static ModelBundle Bundle(CausalLanguageModel model, HfTokenizer tokenizer, string dir, Device? device, string? adapterDir)
    {
        LoraAdapter? adapter = null;
        try
        {
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}");
            var template = (tokenizer.Config is { } config ? ChatTemplate.FromConfig(config, tokenizer.Definition.AddedTokens) : null) ?? ChatTemplate.DeepSeekR1;
            adapter = adapterDir is null ? null : PeftAdapter.Load(adapterDir, model).Activate();
            if (device is not null && adapter is not null) adapter.to(device);
            return new ModelBundle(model, tokenizer, template, dir) { Adapter = adapter };
        }
        catch
        {
            adapter?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes the model (HF layout, float32) and its tokenizer files to <paramref name="dir"/>; not the adapter.</summary>
    public void Save(string dir)
    {
        ModelCheckpoint.Save(Model, dir);
        TokenizerLoader.Save(dir, Tokenizer.Definition, Tokenizer.Config ?? TokenizerConfig.ForOwnTokenizers);
    }

    /// <summary>
    /// Token ids of a chat rendered with the model's template, ready to generate the assistant's turn. Special tokens
    /// come from the template's markup only, unless <paramref name="parseSpecialInContent"/> lets the messages'
    /// contents hold them too (transformers' behaviour).
    /// </summary>
    public IReadOnlyList<int> EncodeChat(IReadOnlyList<ChatMessage> messages, bool parseSpecialInContent = false)
    {
        var prompt = Template.RenderPrompt(messages, addGenerationPrompt: true);
        return parseSpecialInContent ? Tokenizer.Encode(prompt.Text) : Tokenizer.Encode(prompt);
    }

    public void Dispose()
    {
        Adapter?.Dispose();
        Model.Dispose();
    }
}
