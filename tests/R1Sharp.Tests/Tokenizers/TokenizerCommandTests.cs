using System.CommandLine;
using System.Text.Json;
using R1Sharp.Cli.Commands;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class TokenizerCommandTests : IDisposable
{
    readonly TempDir dir = new("r1-cli-");

    public void Dispose() => dir.Dispose();

    static int Run(params string[] args) => Run(TextWriter.Null, args);

    static int Run(TextWriter output, params string[] args)
    {
        var root = new RootCommand { TokenizeCommand.Create(), TokenizerCommand.Create() };
        return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output });
    }

    [Fact]
    public void TokenizeTextPrintsTheIds()
    {
        var output = new StringWriter();
        Assert.Equal(0, Run(output, "tokenize", "--tokenizer", TokenizerTestData.PathOf("deepseek_v3"), "--text", "1234567890"));
        Assert.Equal("[6895,18009,25744,18]", output.ToString().Trim());
    }

    [Fact]
    public void TrainedTokenizerLoadsBackAndRoundTrips()
    {
        string output = Path.Combine(dir, "tok");
        Assert.Equal(0, Run("tokenizer", "train", "--corpus", TokenizerTestData.PathOf("train-corpus.txt"), "--vocab-size", "700", "--out", output));
        HfTokenizer tokenizer = TokenizerLoader.Load(output);
        Assert.Equal(700, tokenizer.VocabSize);
        Assert.Same(ChatTemplate.DeepSeekR1, ChatTemplate.FromConfig(tokenizer.Config!));
        string prompt = ChatTemplate.DeepSeekR1.Render([new("user", "What is 7 * 6? 😀 日本語")], addGenerationPrompt: true);
        var ids = tokenizer.Encode(prompt);
        Assert.Equal(tokenizer.BosId, ids[0]);
        Assert.Equal(prompt, tokenizer.Decode(ids));
    }

    [Fact]
    public void TokenizeJsonlWritesTextAndIds()
    {
        string input = Path.Combine(dir, "in.jsonl"), output = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(input, "{\"text\": \"hello <think>\"}\n\n{\"text\": \"日本\", \"other\": 1}\n");
        Assert.Equal(0, Run("tokenize", "--tokenizer", TokenizerTestData.PathOf("byte"), "--jsonl", input, "--out", output));
        var lines = File.ReadAllLines(output).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal("hello <think>", lines[0].GetProperty("text").GetString());
        Assert.Equal([104, 101, 108, 108, 111, 32, 261], lines[0].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new ByteTokenizer().Encode("日本"), lines[1].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public void BadJsonlLineNamesFileAndLine()
    {
        string input = Path.Combine(dir, "in.jsonl"), output = Path.Combine(dir, "out.jsonl");
        File.WriteAllText(input, "{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n");
        var e = Assert.Throws<R1Error>(() => Run("tokenize", "--tokenizer", TokenizerTestData.PathOf("byte"), "--jsonl", input, "--out", output));
        Assert.Contains($"{input}:2", e.Message);
        Assert.False(File.Exists(output)); // nothing half-written
    }

    [Fact]
    public void TextAndJsonlAreExclusive()
    {
        Assert.Throws<R1Error>(() => Run("tokenize", "--tokenizer", TokenizerTestData.PathOf("byte")));
        Assert.Throws<R1Error>(() => Run("tokenize", "--tokenizer", TokenizerTestData.PathOf("byte"), "--text", "a", "--jsonl", "b"));
    }
}
