using R1Sharp.Model;
using R1Sharp.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// What a model directory holds for running it: the model, its tokenizer and its chat template (from
/// tokenizer_config.json; R1's template when the config names none) — and the LoRA adapter active on the model, if one
/// was loaded with it (<c>--adapter</c>) or is being trained.
/// </summary>
public sealed record ModelBundle(CausalLanguageModel Model, HfTokenizer Tokenizer, ChatTemplate Template, string Directory) : IDisposable
{
    /// <summary>The LoRA adapter every forward of <see cref="Model"/> applies, or null; disposed with the bundle.</summary>
    public LoraAdapter? Adapter { get; init; }

    /// <summary>Loads a model folder and, given <paramref name="adapterDir"/>, the PEFT LoRA adapter there, active.</summary>
    public static ModelBundle Load(string dir, Device? device = null, string? adapterDir = null)
    {
        // Config, weights' headers and tokenizer are all checked before the model is allocated.
        var (modelConfig, _) = ModelCheckpoint.Check(dir);
        var tokenizer = TokenizerLoader.Load(dir);
        if (tokenizer.VocabSize > modelConfig.VocabSize)
            throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {modelConfig.VocabSize}");
        var model = ModelCheckpoint.Load(dir, device);
        var template = (tokenizer.Config is { } config ? ChatTemplate.FromConfig(config, tokenizer.Definition.AddedTokens) : null) ?? ChatTemplate.DeepSeekR1;
        LoraAdapter? adapter = null;
        try
        {
            adapter = adapterDir is null ? null : PeftAdapter.Load(adapterDir, model).Activate();
            if (device is not null && adapter is not null) adapter.to(device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new ModelBundle(model, tokenizer, template, dir) { Adapter = adapter };
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
