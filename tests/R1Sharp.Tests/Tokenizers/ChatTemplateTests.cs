using System.Text.Encodings.Web;
using System.Text.Json;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class ChatTemplateTests
{
    public sealed record ChatCase(string Template, List<ChatMessage> Messages, bool AddGenerationPrompt, string Rendered);

    [Fact]
    public void RendersLikeHuggingFaceRunningOurJinja()
    {
        // expected/chat.json: @huggingface/jinja rendering chat-templates.json (see gen-expected.mjs).
        var cases = TokenizerTestData.Cases<ChatCase>("chat.json");
        Assert.Equal(ChatTemplate.All.Count * 14, cases.Count);
        foreach (var c in cases)
            Assert.Equal(c.Rendered, ChatTemplate.ByName(c.Template).Render(c.Messages, c.AddGenerationPrompt));
    }

    [Fact]
    public void JinjaTextsAreTheCommittedOnes()
    {
        var current = ChatTemplate.All.ToDictionary(t => t.Name, t => t.JinjaText);
        string json = JsonSerializer.Serialize(current, new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var committed = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(TokenizerTestData.PathOf("chat-templates.json")));
        Assert.True(committed!.Count == current.Count && current.All(kv => committed.GetValueOrDefault(kv.Key) == kv.Value),
            $"a template changed: write this to tests/R1Sharp.Tests/Data/tokenizers/chat-templates.json and rerun gen-expected.mjs:\n{json}");
    }

    [Fact]
    public void DeepSeekR1PromptIsTheDocumentedOne()
    {
        string prompt = ChatTemplate.DeepSeekR1.Render([new("user", "What is 2+2?")], addGenerationPrompt: true);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n", prompt);
        Assert.True(ChatTemplate.DeepSeekR1.OpensThink);
    }

    [Fact]
    public void EarlierReasoningIsDropped()
    {
        var messages = new List<ChatMessage> { new("user", "Q1"), new("assistant", "<think>\nlong thought\n</think>\n\nA1"), new("user", "Q2") };
        string r1 = ChatTemplate.DeepSeekR1.Render(messages, addGenerationPrompt: true);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>Q1<｜Assistant｜>\n\nA1<｜end▁of▁sentence｜><｜User｜>Q2<｜Assistant｜><think>\n", r1);
        string chatMl = ChatTemplate.ChatMlThink.Render(messages, addGenerationPrompt: true);
        Assert.Equal("<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\n", chatMl);
    }

    [Fact]
    public void ChosenFromTokenizerConfig()
    {
        Assert.Same(ChatTemplate.DeepSeekR1, ChatTemplate.FromConfig(TokenizerConfig.Load(TokenizerTestData.PathOf("trained", "tokenizer_config.json"))));
        // Third-party configs carry only Jinja; the format is recognised from its tokens.
        Assert.Same(ChatTemplate.DeepSeekR1, ChatTemplate.FromConfig(TokenizerConfig.Load(TokenizerTestData.PathOf("deepseek_v3", "tokenizer_config.json"))));
        Assert.Same(ChatTemplate.ChatMl, ChatTemplate.FromConfig(TokenizerConfig.Load(TokenizerTestData.PathOf("qwen3", "tokenizer_config.json"))));
        Assert.Null(ChatTemplate.FromConfig(new TokenizerConfig()));
        Assert.Same(ChatTemplate.ChatMlThink, ChatTemplate.FromConfig(new TokenizerConfig { ChatTemplateName = "chatml-think" }));
    }

    [Fact]
    public void UnknownNamesAndRolesAreUserErrors()
    {
        Assert.Contains("deepseek-r1, chatml, chatml-think", Assert.Throws<R1Error>(() => ChatTemplate.ByName("llama")).Message);
        Assert.Contains("'tool'", Assert.Throws<R1Error>(() => ChatTemplate.ChatMl.Render([new("tool", "42")], false)).Message);
    }
}
