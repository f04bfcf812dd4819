using System.CommandLine;
using System.Text.Json.Nodes;
using R1Sharp.Cli.Commands;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers.Jinja;

/// <summary><c>r1 tokenize --tokenizer PATH --chat-jsonl IN [--out OUT]</c> gives apply_chat_template's text and ids.</summary>
public class TokenizeChatCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("r1-chat-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static int Run(TextWriter output, params string[] args) =>
        new RootCommand { TokenizeCommand.Create() }.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output });

    string Input(params string[] lines)
    {
        string path = Path.Combine(dir, "in.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("qwen2_5")]
    [InlineData("deepseek_v3")]
    [InlineData("llama3")]
    public void EachLineComesBackWithTheRenderedTextAndIds(string model) => AssertChatJsonl(model, gguf: false);

    /// <summary>The same tokenizer written into a GGUF file's metadata: its tokenizer.chat_template renders the same text and ids.</summary>
    [Theory]
    [InlineData("qwen3")]
    [InlineData("qwen2_5")]
    [InlineData("deepseek_v3")]
    [InlineData("llama3")]
    public void AGgufFileGivesTheSameTextAndIdsAsItsTokenizerFolder(string model) => AssertChatJsonl(model, gguf: true);

    /// <summary>A GGUF file holding only <paramref name="folder"/>'s tokenizer metadata, as llama.cpp's converter writes it.</summary>
    string GgufOf(string folder)
    {
        var writer = new R1Sharp.Gguf.GgufWriter();
        writer.Add("general.architecture", R1Sharp.Gguf.GgufValue.String("llama"));
        int vocab = TokenizerLoader.Load(folder).VocabSize;
        foreach (var (key, value) in R1Sharp.Gguf.GgufTokenizerMetadata.Build(Path.Combine(folder, "tokenizer.json"), Path.Combine(folder, "tokenizer_config.json"), vocab))
            writer.Add(key, value);
        string path = Path.Combine(dir, "tokenizer.gguf");
        writer.Write(path);
        return path;
    }

    void AssertChatJsonl(string model, bool gguf)
    {
        // The folder's own template, with extra keys (tools, enable_thinking) passed through as template variables.
        var cases = TokenizerTestData.Cases<RealChatTemplateTests.RealCase>("chat-real.json")
            .Where(c => c.Model == model).ToList();
        string input = Input([.. cases.Select(c =>
        {
            var line = new JsonObject { ["messages"] = c.Messages.DeepClone(), ["add_generation_prompt"] = c.AddGenerationPrompt };
            foreach (var (key, value) in c.Kwargs) line[key] = value?.DeepClone();
            return line.ToJsonString();
        })]);
        string output = Path.Combine(dir, "out.jsonl");
        string folder = TokenizerTestData.PathOf(cases[0].Tokenizer);
        Assert.Equal(0, Run(TextWriter.Null, "tokenize", "--tokenizer", gguf ? GgufOf(folder) : folder, "--chat-jsonl", input, "--out", output));
        string[] lines = File.ReadAllLines(output);
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            var result = JsonNode.Parse(lines[i])!.AsObject();
            Assert.Equal(cases[i].Rendered, (string?)result["rendered"]);
            Assert.Equal(cases[i].Ids, result["ids"]!.AsArray().Select(id => (int)id!));
            Assert.True(JsonNode.DeepEquals(cases[i].Messages, result["messages"]));
        }
    }

    [Fact]
    public void WritesToStandardOutputWithoutOut()
    {
        var output = new StringWriter();
        string input = Input("""{"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": true, "enable_thinking": false}""");
        Assert.Equal(0, Run(output, "tokenize", "--tokenizer", TokenizerTestData.PathOf("qwen3"), "--chat-jsonl", input));
        var result = JsonNode.Parse(output.ToString())!.AsObject();
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", (string?)result["rendered"]);
        Assert.Equal(false, (bool?)result["enable_thinking"]);
    }

    [Theory]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"ok\"}]}\nnot json", ":2: not valid JSON")]
    [InlineData("[1, 2]", ":1: expected a JSON object")]
    [InlineData("{\"messages\": \"hi\"}", ":1: \"messages\" must be a list")]
    [InlineData("{\"messages\": [{\"content\": \"no role\"}]}", ":1: \"messages\"[0] must be an object with a string \"role\"")]
    [InlineData("{\"messages\": [], \"add_generation_prompt\": \"yes\"}", ":1: \"add_generation_prompt\" must be true or false, not \"yes\"")]
    [InlineData("{\"messages\": [], \"chat_template\": \"{{ 1 }}\"}", ":1: \"chat_template\" cannot be chosen per line")]
    [InlineData("\n\n{\"messages\": []}", ":3: chat template line")] // Qwen3 looks at messages[0] even when there is none, as in transformers
    public void BadLinesNameFileLineAndKey(string lines, string message)
    {
        string input = Input(lines), output = Path.Combine(dir, "out.jsonl");
        var e = Assert.Throws<R1Error>(() => Run(TextWriter.Null, "tokenize", "--tokenizer", TokenizerTestData.PathOf("qwen3"), "--chat-jsonl", input, "--out", output));
        Assert.Contains(input + message, e.Message);
        Assert.False(File.Exists(output)); // nothing half-written
    }

    [Fact]
    public void ATokenizerWithoutTemplateOrAMissingGgufFileIsAClearError()
    {
        string input = Input("""{"messages": []}""");
        Assert.Contains("has no chat template", Assert.Throws<R1Error>(() =>
            Run(TextWriter.Null, "tokenize", "--tokenizer", TokenizerTestData.PathOf("gpt2_style"), "--chat-jsonl", input)).Message);
        Assert.Contains("has no chat template", Assert.Throws<R1Error>(() =>
            Run(TextWriter.Null, "tokenize", "--tokenizer", GgufOf(TokenizerTestData.PathOf("gpt2_style")), "--chat-jsonl", input)).Message);
        Assert.Contains("model.gguf", Assert.Throws<R1Error>(() =>
            Run(TextWriter.Null, "tokenize", "--tokenizer", Path.Combine(dir, "model.gguf"), "--chat-jsonl", input)).Message);
        Assert.Contains("exactly one of", Assert.Throws<R1Error>(() =>
            Run(TextWriter.Null, "tokenize", "--tokenizer", TokenizerTestData.PathOf("qwen3"), "--chat-jsonl", input, "--text", "x")).Message);
    }
}
