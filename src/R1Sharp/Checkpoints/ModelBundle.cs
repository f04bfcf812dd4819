using R1Sharp.Model;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// What a model directory holds for running it: the model, its tokenizer and its chat template (from
/// tokenizer_config.json; R1's template when the config names none).
/// </summary>
public sealed record ModelBundle(CausalLanguageModel Model, HfTokenizer Tokenizer, ChatTemplate Template, string Directory) : IDisposable
{
    public static ModelBundle Load(string dir, Device? device = null)
    {
        // Config, weights' headers and tokenizer are all checked before the model is allocated.
        var (modelConfig, _) = ModelCheckpoint.Check(dir);
        var tokenizer = TokenizerLoader.Load(dir);
        if (tokenizer.VocabSize > modelConfig.VocabSize)
            throw new R1Error($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {modelConfig.VocabSize}");
        var model = ModelCheckpoint.Load(dir, device);
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
