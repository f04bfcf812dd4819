using System.Text.Json.Nodes;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers.Jinja;

/// <summary>
/// The chat templates of the real tokenizer folders in Data/tokenizers (DeepSeek-V3, Qwen2.5, Qwen3, Llama-3) render
/// exactly as Hugging Face's apply_chat_template does, text and ids, for system prompts (also empty), several turns,
/// reasoning in earlier turns, unicode and whitespace at the edges, tools and tool calls, Qwen3's enable_thinking and
/// reasoning_content, with add_generation_prompt on and off. expected/chat-real.json comes from gen-chat-expected.mjs
/// (in this folder).
/// </summary>
public class RealChatTemplateTests
{
    public sealed record RealCase(string Model, string Tokenizer, string Id, JsonArray Messages, bool AddGenerationPrompt,
        JsonObject Kwargs, string Rendered, int[] Ids, string? RenderedTransformersJs);

    static readonly Lazy<IReadOnlyList<RealCase>> Cases = new(() => TokenizerTestData.Cases<RealCase>("chat-real.json"));

    public static TheoryData<string> Models() => [.. Cases.Value.Select(c => c.Model).Distinct()];

    [Theory]
    [MemberData(nameof(Models))]
    public void RendersAndTokenizesLikeTransformers(string model)
    {
        var cases = Cases.Value.Where(c => c.Model == model).ToList();
        HfTokenizer tokenizer = TokenizerTestData.Load(cases[0].Tokenizer);
        ChatTemplate template = TemplateOf(cases[0].Tokenizer);
        foreach (RealCase c in cases)
        {
            string what = $"{c.Model}/{c.Id}, add_generation_prompt={c.AddGenerationPrompt}";
            string rendered = template.RenderJinja(c.Messages, c.AddGenerationPrompt, c.Kwargs, new JinjaTestKit.FixedClock(JinjaTestKit.FixedNow));
            Assert.True(c.Rendered == rendered, $"{what}: expected\n{TokenizerTestData.Show(c.Rendered)}\nbut rendered\n{TokenizerTestData.Show(rendered)}");
            Assert.True(c.Ids.SequenceEqual(tokenizer.Encode(rendered)), $"{what}: ids differ");
        }
    }

    [Fact]
    public void EveryFamilyIsCovered()
    {
        var models = Cases.Value.Select(c => c.Model).ToHashSet();
        foreach (string family in (string[])["deepseek_v3", "qwen2_5", "qwen3", "llama3"])
            Assert.Contains(family, models);
        Assert.All(Cases.Value.GroupBy(c => (c.Model, c.Id)), g => Assert.Equal(2, g.Select(c => c.AddGenerationPrompt).Distinct().Count()));
    }

    [Fact]
    public void ThinkingTemplatesAreRecognised()
    {
        foreach (string folder in (string[])["deepseek_v3", "qwen3", "qwen2_5", "llama3_1"])
            Assert.False(TemplateOf(folder).OpensThink, folder);
        // An R1-Distill-style template (our own, in jinja-constructs.json) ends its generation prompt with <think>\n.
        Assert.True(StyleChatTemplateTests.TemplateOf(StyleChatTemplateTests.Cases("r1-distill-style")[0]).OpensThink);
        Assert.False(StyleChatTemplateTests.TemplateOf(StyleChatTemplateTests.Cases("function-signature-style")[0]).OpensThink);
    }

    static ChatTemplate TemplateOf(string folder) =>
        ChatTemplate.FromConfig(TokenizerConfig.Load(TokenizerTestData.PathOf(folder, "tokenizer_config.json")))!;
}

/// <summary>
/// Chat templates of our own written in the styles of other families (Llama-3.1's dates and tools, R1-Distill's tool
/// tokens and opened think block, Mistral's role checks with raise_exception, Hermes/gpt-oss tool signatures from a
/// recursive macro): the chat-* cases of jinja-constructs.json (gen-constructs.py). JinjaConstructTests renders them
/// with the variables as given; here they go through ChatTemplate as a tokenizer config would carry them, the special
/// tokens coming from the config and the rest from the request, and must give jinja2's text or fail where it failed.
/// </summary>
public class StyleChatTemplateTests
{
    public static IReadOnlyList<JinjaConstructTests.ConstructCase> Cases(string style) =>
        [.. TokenizerTestData.Cases<JinjaConstructTests.ConstructCase>("jinja-constructs.json").Where(c => c.Name.StartsWith($"chat-{style}/"))];

    public static ChatTemplate TemplateOf(JinjaConstructTests.ConstructCase c) =>
        ChatTemplate.FromJinja(c.Template, new TokenizerConfig { BosToken = (string?)c.Variables["bos_token"], EosToken = (string?)c.Variables["eos_token"] },
            name: c.Name);

    [Theory]
    [InlineData("llama-style")]
    [InlineData("r1-distill-style")]
    [InlineData("mistral-style")]
    [InlineData("function-signature-style")]
    public void RendersThroughChatTemplateAsJinja2Does(string style)
    {
        var cases = Cases(style);
        Assert.True(cases.Count >= 6, $"only {cases.Count} {style} cases");
        Assert.Contains(cases, c => c.Error is null);
        ChatTemplate template = TemplateOf(cases[0]);
        foreach (var c in cases)
        {
            var messages = c.Variables["messages"]!.AsArray();
            bool addGenerationPrompt = (bool)c.Variables["add_generation_prompt"]!;
            var request = new JsonObject(c.Variables.Where(kv => kv.Key is not ("messages" or "add_generation_prompt" or "bos_token" or "eos_token"))
                .Select(kv => KeyValuePair.Create(kv.Key, kv.Value?.DeepClone())));
            string Render() => template.RenderJinja(messages, addGenerationPrompt, request, new JinjaTestKit.FixedClock(JinjaTestKit.FixedNow));
            if (c.Error is null) Assert.True(c.Rendered == Render(), $"{c.Name}: expected\n{TokenizerTestData.Show(c.Rendered!)}\nbut rendered\n{TokenizerTestData.Show(Render())}");
            else
            {
                Assert.StartsWith("TemplateError: ", c.Error); // our templates fail only through raise_exception
                Assert.Contains("the template raised an error: " + c.Error["TemplateError: ".Length..], Assert.Throws<R1Error>(Render).Message);
            }
        }
    }
}
