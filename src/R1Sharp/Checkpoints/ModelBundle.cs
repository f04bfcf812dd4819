using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// What a model directory or GGUF file holds for running it: the model, its tokenizer and its chat template (from
/// tokenizer_config.json or the GGUF metadata; R1's template when none is named). <see cref="Directory"/> is the
/// directory or file it came from.
/// </summary>
public sealed record ModelBundle(CausalLanguageModel Model, HfTokenizer Tokenizer, ChatTemplate Template, string Directory) : IDisposable
{
    /// <param name="dir">A model directory (config.json, weights, tokenizer.json) or a .gguf file (weights kept as stored, CPU only).</param>
    public static ModelBundle Load(string dir, Device? device = null)
    {
        if (GgufModelLoader.IsGgufFile(dir))
        {
            if (device is not null && device.type != DeviceType.CPU) throw new R1Error($"{dir}: GGUF models run on the CPU");
            var (gguf, ggufTokenizer) = GgufModelLoader.Load(dir);
            return Bundle(gguf, ggufTokenizer, dir);
        }
        // Config, weights' headers and tokenizer are all checked before the model is allocated.
        var (modelConfig, _) = ModelCheckpoint.Check(dir);
        var tokenizer = TokenizerLoader.Load(dir);
        if (tokenizer.VocabSize > modelConfig.VocabSize)
            throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {modelConfig.VocabSize}");
        return Bundle(ModelCheckpoint.Load(dir, device), tokenizer, dir);
    }

    static ModelBundle Bundle(CausalLanguageModel model, HfTokenizer tokenizer, string dir)
    {
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.Config.VocabSize}");
        var template = (tokenizer.Config is { } config ? ChatTemplate.FromConfig(config, tokenizer.Definition.AddedTokens) : null) ?? ChatTemplate.DeepSeekR1;
        return new ModelBundle(model, tokenizer, template, dir);
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

    public void Dispose() => Model.Dispose();
}
