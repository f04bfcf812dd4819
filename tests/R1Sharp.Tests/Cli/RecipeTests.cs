using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using R1Sharp.Quickstart;
using R1Sharp.Runs;
using R1Sharp.Tokenizers;
using static R1Sharp.Tests.Cli.CliRun;

namespace R1Sharp.Tests.Cli;

/// <summary>
/// docs/recipe-add-reasoning.md (#17 item 6): `r1 quickstart corpus` (the text of a student that only answers
/// directly), `--max-seconds` (full fine-tuning for LoRA's wall-clock), and bench/recipe-add-reasoning.sh run end to end
/// at its tiny size — teacher served by `r1 serve`, traces, LoRA SFT, LoRA GRPO, full fine-tuning, the table — so CI
/// proves the recipe's commands work together.
/// </summary>
public class RecipeTests : IDisposable
{
    readonly TempDir dir = new("r1-recipe-");

    public void Dispose() => dir.Dispose();

    static List<string> Texts(string jsonl) => File.ReadLines(jsonl).Select(l => (string)JsonNode.Parse(l)!["text"]!).ToList();

    [Fact]
    public void Quickstart_corpus_writes_the_pretraining_text_r1_pretrain_reads_and_direct_share_1_answers_every_problem_directly()
    {
        // The quickstart's own mix: each line plus the EOS r1 pretrain appends is a quickstart document, token for token.
        string mixed = dir.File("mixed.jsonl");
        var result = R1("quickstart", "corpus", "--tiny", "--out", mixed);
        Assert.True(result.Exit == 0, result.ToString());
        var documents = QuickstartCorpus.Documents(QuickstartConfig.Tiny);
        var texts = Texts(mixed);
        Assert.Equal(documents, texts.Select(t => t + ChatTokens.Eos));
        var tokenizer = new HfTokenizer(BpeTrainer.Train(documents, QuickstartConfig.Tiny.TokenizerVocabSize), TokenizerConfig.ForOwnTokenizers);
        Assert.Equal(tokenizer.Encode(documents[0]).ToArray(), tokenizer.Encode(texts[0]).Append(tokenizer.EosId!.Value).ToArray());
        Assert.Contains(texts, t => !DirectAnswer.IsMatch(t)); // worked columns are in the mix

        // direct_share and harder_direct_share 1: every problem answered at once, nothing inside <think>.
        string config = dir.File("direct.json"), direct = dir.File("direct.jsonl");
        File.WriteAllText(config, """{"direct_share": 1, "harder_direct_share": 1, "direct_forget_carry_share": 0}""");
        result = R1("quickstart", "corpus", "--tiny", "--config", config, "--out", direct);
        Assert.True(result.Exit == 0, result.ToString());
        Assert.Contains("400 documents", result.Err + result.Out);
        var directTexts = Texts(direct);
        Assert.Equal(QuickstartConfig.Tiny.PretrainDocuments, directTexts.Count);
        Assert.All(directTexts, t => Assert.Matches(DirectAnswer, t));

        // A bad setting is exit 2 naming it, and nothing is written.
        File.WriteAllText(config, """{"direct_shares": 1}""");
        result = R1("quickstart", "corpus", "--config", config, "--out", dir.File("bad.jsonl"));
        Assert.Equal(2, result.Exit);
        Assert.Contains("direct_shares", result.Err);
        Assert.False(File.Exists(dir.File("bad.jsonl")));
    }

    static string Escape(string text) => Regex.Escape(text);

    /// <summary>A conversation whose assistant turn is an empty think block and the sum.</summary>
    static readonly Regex DirectAnswer = new($@"^{Escape(ChatTokens.Bos)}?{Escape(ChatTokens.User)}What is \d+\+\d+\?{Escape(ChatTokens.Assistant)}" +
                                             $@"{Escape(ChatTokens.ThinkStart)}\n{Escape(ChatTokens.ThinkEnd)}\n\d+$");

    [Fact]
    public void Max_seconds_stops_sft_and_grpo_at_the_end_of_the_step_that_passes_it_and_is_recorded()
    {
        string model = dir.File("model"), runs = dir.File("runs"), data = dir.File("sft.jsonl");
        Assert.Equal(0, R1("init", "--arch", "llama", "--preset", "tiny", "--out", model).Exit);
        R1Sharp.Tasks.SftData.WriteJsonl(data, new R1Sharp.Tasks.Synthetic.ArithmeticTask().Examples(R1Sharp.Tasks.TaskSplit.Train, 1).Take(20));
        // A step takes more than a millisecond, so a 0.001 s budget ends each run after its first step, whatever max_steps says.
        var sft = R1("sft", "--model", model, "--data", data, "--max-steps", "1000", "--max-seconds", "0.001", "--runs-dir", runs, "--name", "sft");
        Assert.True(sft.Exit == 0, sft.ToString());
        var grpo = R1("grpo", "--model", model, "--task", "arithmetic", "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "4",
            "--max-steps", "1000", "--max-seconds", "0.001", "--runs-dir", runs, "--name", "grpo");
        Assert.True(grpo.Exit == 0, grpo.ToString());
        foreach (string run in new[] { "sft", "grpo" })
        {
            Assert.Equal(0.001, (double)JsonNode.Parse(File.ReadAllText(Path.Combine(runs, run, "config.json")))!["max_seconds"]!);
            Assert.Equal(1, MetricsRow.Read(Path.Combine(runs, run, RunFolder.MetricsFile)).Max(r => r.Step));
        }
        Assert.Equal(2, R1("sft", "--model", model, "--data", data, "--max-seconds", "-1", "--runs-dir", runs).Exit);
    }

    [SkippableFact]
    public void The_recipe_script_runs_end_to_end_at_its_tiny_size_and_writes_the_table()
    {
        Skip.If(OperatingSystem.IsWindows() || !File.Exists("/bin/bash"), "the recipe script needs bash");
        string cli = Path.Combine(AppContext.BaseDirectory, "r1.dll"); // R1Sharp.Cli, built beside the tests
        Assert.True(File.Exists(cli) && File.Exists(Path.ChangeExtension(cli, ".runtimeconfig.json")), $"{cli} is not a runnable build of r1");
        string output = dir.File("recipe"), script = Path.Combine(RepoRoot(), "bench", "recipe-add-reasoning.sh");
        int port = FreePort();
        var start = new ProcessStartInfo("/bin/bash", [script, output])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.Path,
            Environment =
            {
                ["R1"] = $"{Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet"} {cli}", ["RECIPE_SIZE"] = "tiny",
                ["PORT"] = port.ToString(), ["R1_RUNS"] = dir.File("default-runs"),
            },
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the recipe script did not finish in 15 minutes\n{stderr.Result}");
        }
        string log = $"exit {process.ExitCode}\n--- stdout\n{stdout.Result}\n--- stderr\n{stderr.Result}";
        Assert.True(process.ExitCode == 0, log);

        // The table: every row, with numbers where a model was evaluated.
        string table = File.ReadAllText(Path.Combine(output, "table.md"));
        Assert.Equal(table, stdout.Result); // the commands' own output goes to stderr
        foreach (string row in new[] { "student base", "+ LoRA SFT", "+ LoRA GRPO", "full SFT", "+ full GRPO", "teacher" })
            Assert.Matches($@"\| {Escape(row)}[^|]*\| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d+\.\d \| \d+\.\d \|", table);
        Assert.Matches(@"MiB adapter", table);
        Assert.Contains("code: ", table);

        // What each step left: verified-or-kept traces from the served teacher, two adapters (PEFT's files), full models.
        Assert.NotEmpty(File.ReadLines(Path.Combine(output, "traces.jsonl")));
        Assert.Contains("\"endpoint\"", File.ReadAllText(Path.Combine(output, "traces.summary.json")));
        foreach (string adapter in new[] { "lora-sft", "lora-grpo" })
            Assert.True(File.Exists(Path.Combine(output, adapter, "adapter_model.safetensors")), adapter);
        foreach (string row in new[] { "base", "lora-sft", "lora-grpo", "full-sft", "full-grpo", "teacher" })
            foreach (string split in new[] { "test", "harder" })
                Assert.True(File.Exists(Path.Combine(output, "eval", $"{row}-{split}", "eval.json")), $"{row}-{split}");
        // Full fine-tuning got the LoRA stages' training seconds as its budget.
        foreach (var (full, lora) in new[] { ("full-sft", "lora-sft"), ("full-grpo", "lora-grpo") })
        {
            double budget = (double)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "runs", full, "config.json")))!["max_seconds"]!;
            string state = Directory.GetFiles(Path.Combine(output, "runs", lora, "checkpoints"), "trainer_state.json", SearchOption.AllDirectories).Single();
            Assert.Equal((double)JsonNode.Parse(File.ReadAllText(state))!["elapsed_seconds"]!, budget, 6);
        }
        // The teacher's server was stopped: its port is free again.
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
