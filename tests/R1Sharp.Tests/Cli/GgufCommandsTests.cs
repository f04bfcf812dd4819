using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using R1Sharp.Cli;
using R1Sharp.Serving;
using R1Sharp.Tests.Server;

namespace R1Sharp.Tests.Cli;

/// <summary>
/// `--model X.gguf` in every command that runs a model (generate, serve through R1ChatClient and the server, eval,
/// sample, inspect, tokenize, perplexity, bench generate) and `--quantize` on a model directory: a GGUF file of a
/// folder's weights runs as the folder does.
/// </summary>
[Collection(ServerCollection.Name)]
public class GgufCommandsTests
{
    static (int Exit, string Output) R1(params string[] args)
    {
        var output = new StringWriter();
        int exit = CliApp.Run(args, output);
        return (exit, output.ToString());
    }

    /// <summary>A tiny random qwen2 folder ("model") and its export as GGUF of <paramref name="dtype"/> beside it.</summary>
    static (string Folder, string Gguf) Export(TempDir dir, string dtype = "f32")
    {
        string folder = dir.File("model"), gguf = dir.File($"model-{dtype}.gguf");
        if (!Directory.Exists(folder)) Assert.Equal(0, R1("init", "--arch", "qwen2", "--preset", "tiny", "--out", folder, "--seed", "3").Exit);
        var export = R1("export", "gguf", "--model", folder, "--out", gguf, "--dtype", dtype);
        Assert.True(export.Exit == 0, export.Output);
        return (folder, gguf);
    }

    [Fact]
    public void Generate_runs_a_gguf_file_as_the_folder_it_came_from_and_quantize_as_the_quantized_file()
    {
        using var dir = new TempDir("r1-gguf-cli-");
        var (folder, f32) = Export(dir);
        var (_, q8) = Export(dir, "q8_0");
        string[] Greedy(string model, params string[] more) =>
            ["generate", "--model", model, "--prompt", "2+2=", "--temperature", "0", "--max-tokens", "24", .. more];
        var fromFolder = R1(Greedy(folder));
        Assert.Equal(0, fromFolder.Exit);
        Assert.Equal(fromFolder, R1(Greedy(f32)));
        // --quantize writes what export --dtype writes, so the folder quantized at load runs as the file does.
        var fromQ8 = R1(Greedy(q8));
        Assert.Equal(0, fromQ8.Exit);
        Assert.Equal(fromQ8, R1(Greedy(folder, "--quantize", "q8_0")));
        var sampled = R1(["generate", "--model", q8, "--prompt", "2+2=", "--temperature", "1", "--seed", "5", "--max-tokens", "16"]);
        Assert.Equal(sampled, R1(["generate", "--model", q8, "--prompt", "2+2=", "--temperature", "1", "--seed", "5", "--max-tokens", "16"]));

        Assert.Equal(2, R1(Greedy(q8, "--quantize", "q4_0")).Exit); // a GGUF file runs as stored
        Assert.Equal(2, R1(Greedy(folder, "--quantize", "q3_k")).Exit);
    }

    [Fact]
    public void Eval_sample_inspect_tokenize_and_perplexity_accept_a_gguf_file()
    {
        using var dir = new TempDir("r1-gguf-cli-");
        var (folder, f32) = Export(dir);
        var (_, q8) = Export(dir, "q8_0");

        string evalOut = dir.File("eval");
        Assert.Equal(0, R1("eval", "--model", q8, "--task", "arithmetic", "--samples", "2", "--prompts", "3", "--max-tokens", "8", "--out", evalOut).Exit);
        Assert.Equal(3, R1Sharp.Evaluation.EvalReport.Load(Path.Combine(evalOut, "eval.json")).Prompts);
        string quantizedOut = dir.File("eval-quantized");
        Assert.Equal(0, R1("eval", "--model", folder, "--quantize", "q8_0", "--task", "arithmetic", "--samples", "2", "--prompts", "3",
            "--max-tokens", "8", "--out", quantizedOut).Exit);
        Assert.Equal(File.ReadAllText(Path.Combine(evalOut, "samples.jsonl")), File.ReadAllText(Path.Combine(quantizedOut, "samples.jsonl")));

        string traces = dir.File("traces.jsonl");
        Assert.Equal(0, R1("sample", "--model", q8, "--task", "arithmetic", "--samples", "2", "--prompts", "3", "--max-tokens", "8",
            "--keep", "all", "--out", traces).Exit);
        Assert.True(File.Exists(traces));

        var inspect = R1("inspect", q8);
        Assert.True(inspect.Exit == 0, inspect.Output);

        var fromFolder = R1("tokenize", "--tokenizer", folder, "--text", "What is 12 + 30? <think>");
        Assert.Equal(0, fromFolder.Exit);
        Assert.Equal(fromFolder, R1("tokenize", "--tokenizer", q8, "--text", "What is 12 + 30? <think>"));

        string text = dir.File("text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("The mill wheel turns while the river runs to the sea. ", 8)));
        double Perplexity(string model)
        {
            string json = dir.File($"ppl-{Guid.NewGuid():N}.json");
            var run = R1("perplexity", "--model", model, "--data", text, "--ctx", "32", "--out", json);
            Assert.True(run.Exit == 0, run.Output);
            var result = JsonNode.Parse(File.ReadAllText(json))!;
            Assert.Equal(32, result["ctx"]!.GetValue<int>());
            Assert.True(result["tokens_scored"]!.GetValue<int>() >= 2 * 15);
            return result["perplexity"]!.GetValue<double>();
        }
        double folderPerplexity = Perplexity(folder);
        Assert.InRange(Perplexity(f32) / folderPerplexity, 1 - 1e-4, 1 + 1e-4);
        Assert.InRange(Perplexity(q8) / folderPerplexity, 0.95, 1.05);
        Assert.Equal(2, R1("perplexity", "--model", q8, "--data", text, "--ctx", "4096").Exit); // longer than the text
    }

    /// <summary>The reasoning test model as a GGUF file: the chat client and the server show its thinking as reasoning_content.</summary>
    [Theory]
    [InlineData("f32")]
    [InlineData("q8_0")]
    public async Task R1ChatClient_and_the_server_run_a_gguf_file_with_its_thinking(string dtype)
    {
        using var dir = new TempDir("r1-gguf-serve-");
        string gguf = dir.File("reasoning.gguf");
        Assert.Equal(0, R1("export", "gguf", "--model", ServerTestModels.ReasoningDir, "--out", gguf, "--dtype", dtype).Exit);
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 120 };
        using (var client = R1ChatClient.Load(gguf))
        {
            var response = await client.GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(ChatRole.User, "What is 2+2?")], greedy);
            var message = Assert.Single(response.Messages);
            Assert.Equal(ServerTestModels.Reasoning, string.Concat(message.Contents.OfType<TextReasoningContent>().Select(c => c.Text)));
            Assert.Equal(ServerTestModels.Answer, response.Text);
        }
        await using var server = await ServerFixture.StartAsync(gguf);
        var completion = (await ServerFixture.OpenAiChat(server).CompleteChatAsync(
            [new OpenAI.Chat.UserChatMessage("What is 2+2?")], new OpenAI.Chat.ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 120 })).Value;
        Assert.Equal(ServerTestModels.Answer, completion.Content[0].Text);
    }

    [Fact]
    public void Bench_generate_measures_a_gguf_file_and_a_llama_cpp_quantization()
    {
        using var dir = new TempDir("r1-gguf-bench-");
        var (folder, q8) = Export(dir, "q8_0");
        string[] Small(string json) => ["--threads", "1", "--repeats", "1", "--prefill-tokens", "16", "--decode-tokens", "4", "--samples", "2", "--out", json];
        foreach (var (args, dtype) in new[] { (new[] { "--model", q8 }, "as stored"), (["--model", folder, "--dtype", "q4_0"], "q4_0") })
        {
            string json = dir.File($"bench-{Guid.NewGuid():N}.json");
            var (exit, output) = R1(["bench", "generate", .. args, .. Small(json)]);
            Assert.True(exit == 0, output);
            var result = JsonNode.Parse(File.ReadAllText(json))!;
            Assert.Equal(dtype, result["dtype"]!.GetValue<string>());
            Assert.True(result["file_bytes"]!.GetValue<long>() > 0);
            foreach (var engine in new[] { "r1sharp", "llama_cpp" })
                Assert.True(result[engine]!["decode_tokens_per_second"]!.GetValue<double>() > 0, engine);
        }
        Assert.Equal(2, R1(["bench", "generate", "--model", q8, "--dtype", "q4_0", .. Small(dir.File("x.json"))]).Exit);
    }
}
