using System.CommandLine;
using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Runs;
using static R1Sharp.Tests.Cli.CliRun;

namespace R1Sharp.Tests.Cli;

/// <summary>
/// What a new user trips over in the CLI (#21), each through the real command line: exit codes, what goes to standard
/// output and what to standard error, and the files left behind. Items 1, 2, 7 and 8 are in TrainingCommandsTests,
/// RunFolderTests and QuickstartTests; item 12 (the README) in ReadmeTests.
/// </summary>
public class NewUserTests : IDisposable
{
    readonly TempDir dir = new("r1-newuser-");

    public void Dispose() => dir.Dispose();

    string Runs => dir.File("runs");

    string Model()
    {
        string model = dir.File("model");
        if (!Directory.Exists(model)) Assert.Equal(0, R1("init", "--arch", "llama", "--preset", "tiny", "--out", model).Exit);
        return model;
    }

    string WriteJson(string name, object value)
    {
        string path = dir.File(name);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(value));
        return path;
    }

    static void UserError(CliRun.Result result, params string[] named)
    {
        Assert.True(result.Exit == 2, result.ToString());
        Assert.StartsWith("error: ", result.Err);
        Assert.Equal("", result.Out);
        foreach (string text in named) Assert.Contains(text, result.Err);
    }

    static List<JsonObject> Lines(string path) => File.ReadAllLines(path).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    // Item 3: errors and progress on standard error, results on standard output, everywhere.
    [Fact]
    public void Results_go_to_stdout_and_errors_progress_and_summaries_beside_results_to_stderr()
    {
        string model = Model();
        UserError(R1("tokenize", "--tokenizer", dir.File("missing.json"), "--text", "hi"), "missing.json");

        var ids = R1("tokenize", "--tokenizer", model, "--text", "2+2");
        Assert.Equal((0, ""), (ids.Exit, ids.Err));
        Assert.NotNull(JsonNode.Parse(ids.Out)!.AsArray());

        // grade: graded lines alone on stdout (pipeable JSON), the summary on stderr; with --out, the summary is the result.
        string predictions = dir.File("predictions.jsonl");
        File.WriteAllLines(predictions, ["""{"prediction": "\\boxed{4}", "gold": "4"}""", """{"prediction": "5", "gold": "4"}"""]);
        var graded = R1("grade", "--jsonl", predictions);
        Assert.Equal(0, graded.Exit);
        Assert.Equal([true, false], graded.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (bool)JsonNode.Parse(l)!["correct"]!));
        Assert.Contains("graded 2 predictions: 1 correct", graded.Err);
        var toFile = R1("grade", "--jsonl", predictions, "--out", dir.File("graded.jsonl"));
        Assert.Contains("graded 2 predictions: 1 correct", toFile.Out);
        Assert.Equal("", toFile.Err);
        File.AppendAllText(predictions, "{not json\n");
        UserError(R1("grade", "--jsonl", predictions), "predictions.jsonl:3", "not valid JSON");

        // eval: the table on stdout; progress as plain lines on stderr (item 6).
        var eval = R1("eval", "--model", model, "--task", "arithmetic", "--prompts", "2", "--samples", "2", "--max-tokens", "4", "--out", dir.File("eval"));
        Assert.True(eval.Exit == 0, eval.ToString());
        Assert.Contains("pass@1", eval.Out);
        Assert.DoesNotContain("generating", eval.Out);
        Assert.Contains("generating: 0/2 (0%)", eval.Err);
        Assert.Contains("generating: 2/2 (100%)", eval.Err);
        Assert.DoesNotContain("pass@1", eval.Err);

        // generate: the text alone on stdout; the note that it stopped at --max-tokens on stderr (item 11).
        var generated = R1("generate", "--model", model, "--prompt", "1+1=", "--max-tokens", "3", "--temperature", "0");
        Assert.Equal(0, generated.Exit);
        Assert.Contains("note: stopped at --max-tokens 3", generated.Err);
        Assert.DoesNotContain("note:", generated.Out);
    }

    // Item 4: options are checked before they reach a library (no native abort) and user text is never markup.
    [Fact]
    public void Bad_options_are_usage_errors_with_exit_2_in_every_command_before_anything_loads()
    {
        // Every command that takes --threads refuses 0 as a usage error (libtorch would abort the process).
        var withThreads = new List<string>();
        void Visit(Command command, string[] path)
        {
            if (command.Options.Any(o => o.Name == "--threads")) withThreads.Add(string.Join(' ', path));
            foreach (var sub in command.Subcommands) Visit(sub, [.. path, sub.Name]);
        }
        foreach (var command in CliApp.BuildRoot().Subcommands) Visit(command, [command.Name]);
        Assert.Contains("pretrain", withThreads);
        Assert.Contains("generate", withThreads);
        foreach (string path in withThreads)
        {
            var result = R1([.. path.Split(' '), "--threads", "0"]);
            Assert.True(result.Exit == 2, $"{path} --threads 0: {result}");
            Assert.Contains("--threads must be at least 1, got 0", result.Err);
        }

        // serve checks --host and --port before it loads the model (none exists here) or binds.
        string missing = dir.File("no-model");
        UserError(R1("serve", "--model", missing, "--port", "70000"), "--port", "70000");
        UserError(R1("serve", "--model", missing, "--port", "-1"), "--port");
        UserError(R1("serve", "--model", missing, "--host", "localhost", "--port", "0"), "--port 0", "localhost");
        UserError(R1("serve", "--model", missing, "--host", "[red]example[/]"), "[red]example[/]");
        UserError(R1("serve", "--model", missing, "--host", "example.com"), "--host", "example.com");
        // A valid address gets as far as the model, which is then the error.
        UserError(R1("serve", "--model", missing, "--host", "::1", "--port", "0"), "no-model");
        Assert.False(Directory.Exists(missing));

        // Other rules a new user met: an empty path, --prompts 0, --samples 0.
        UserError(R1("inspect", " "), "must name a file or folder");
        UserError(R1("eval", "--model", Model(), "--task", "arithmetic", "--prompts", "0"), "--prompts must be at least 1, got 0");
        UserError(R1("eval", "--model", Model(), "--task", "arithmetic", "--samples", "0"), "--samples must be at least 1, got 0");
    }

    // Items 5 and 9: pretrain and sft hold out data and log eval_loss; a schedule longer than the run is a warning.
    [Fact]
    public void Pretrain_and_sft_log_eval_loss_and_warn_when_the_schedule_outlasts_the_run()
    {
        string model = Model();
        string corpus = dir.File("corpus.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 60).Select(i => new JsonObject { ["text"] = $"{i}+{i}={2 * i}" }.ToJsonString()));
        // No warmup_steps: the default (50) outlasts the 4 steps.
        string config = WriteJson("pretrain.json", new { max_steps = 4, batch_size = 4, max_seq_length = 16, eval_steps = 2, save_steps = 0 });
        var pretrain = R1("pretrain", "--model", model, "--data", corpus, "--config", config, "--runs-dir", Runs, "--name", "p");
        Assert.True(pretrain.Exit == 0, pretrain.ToString());
        Assert.Contains("warmup_steps 50 is longer than the run (max_steps 4)", pretrain.Err);
        Assert.DoesNotContain("eval_steps", pretrain.Err);
        var metrics = Lines(Path.Combine(Runs, "p", RunFolder.MetricsFile));
        Assert.Equal(4, metrics.Count);
        foreach (int step in new[] { 2, 4 })
        {
            double loss = (double)metrics[step - 1][R1Sharp.Training.MetricNames.EvalLoss]!;
            Assert.True(double.IsFinite(loss) && loss > 0, $"eval_loss at step {step}: {loss}");
        }

        // sft with the default eval_steps (100) in a 2-step run: warned, and the held-out loss still comes at the end.
        string sftData = dir.File("sft.jsonl");
        R1Sharp.Tasks.SftData.WriteJsonl(sftData, new R1Sharp.Tasks.Synthetic.ArithmeticTask().Examples(R1Sharp.Tasks.TaskSplit.Train, 1).Take(40));
        string sftConfig = WriteJson("sft.json", new { max_steps = 2, batch_size = 4, max_seq_length = 128, warmup_steps = 1 });
        var sft = R1("sft", "--model", model, "--data", sftData, "--config", sftConfig, "--runs-dir", Runs, "--name", "s");
        Assert.True(sft.Exit == 0, sft.ToString());
        Assert.Contains("eval_steps 100 is longer than the run (max_steps 2)", sft.Err);
        Assert.DoesNotContain("warmup_steps", sft.Err);
        Assert.NotNull(Lines(Path.Combine(Runs, "s", RunFolder.MetricsFile))[^1][R1Sharp.Training.MetricNames.EvalLoss]);
        // Warnings are diagnostics: stdout holds none.
        Assert.DoesNotContain("longer than the run", pretrain.Out + sft.Out);
    }

    // Item 6: without a terminal, no wrapping at a guessed width; COLUMNS is honoured.
    [Fact]
    public void Without_a_terminal_lines_are_not_wrapped_unless_columns_says_so()
    {
        string runs = Path.Combine(dir.Path, string.Concat(Enumerable.Repeat("a-long-folder-name/", 5)), "runs");
        string name = "a-run-with-a-name-longer-than-eighty-columns-" + new string('x', 50);
        RunFolder.Create(runs, name, "sft", new { }).Finish(RunStatus.Finished);
        string? columns = Environment.GetEnvironmentVariable("COLUMNS");
        try
        {
            Environment.SetEnvironmentVariable("COLUMNS", null);
            var wide = R1("runs", "--dir", runs);
            Assert.True(wide.Exit == 0, wide.ToString());
            Assert.Contains(wide.Out.Split('\n'), line => line.Contains(name));
            Assert.DoesNotContain("\u001b[", wide.Out); // no escape codes

            Environment.SetEnvironmentVariable("COLUMNS", "60");
            var narrow = R1("runs", "--dir", runs);
            Assert.Equal(0, narrow.Exit);
            Assert.All(narrow.Out.Split('\n'), line => Assert.True(line.Length <= 60, $"{line.Length} columns: {line}"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("COLUMNS", columns);
        }
    }

    // Item 10: samples files are readable UTF-8 with the prompt; eval's greedy row is marked as such.
    [Fact]
    public void Samples_files_are_readable_utf8_with_the_prompt_and_a_marked_greedy_row()
    {
        string model = Model();
        var grpo = R1("grpo", "--model", model, "--task", "arithmetic", "--runs-dir", Runs, "--name", "g", "--num-generations", "2",
            "--prompts-per-step", "2", "--max-completion-length", "6", "--max-steps", "1");
        Assert.True(grpo.Exit == 0, grpo.ToString());
        string samplesPath = Path.Combine(Runs, "g", RunFolder.SamplesFile);
        string text = File.ReadAllText(samplesPath);
        foreach (string escape in new[] { "\\u003C", "\\u003E", "\\u002B", "\\u0026", "\\u0027" })
            Assert.DoesNotContain(escape, text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"prompt\":\"<｜begin▁of▁sentence｜><｜User｜>What is ", text); // written as itself, not \u-escaped
        var samples = Lines(samplesPath);
        Assert.NotEmpty(samples);
        foreach (var sample in samples)
        {
            string prompt = (string)sample["prompt"]!;
            Assert.Contains("<｜User｜>What is ", prompt); // the chat-templated prompt
            Assert.NotNull(sample["completion"]);
            Assert.Equal(1, (int)sample["step"]!);
        }

        string evalDir = dir.File("eval");
        Assert.Equal(0, R1("eval", "--model", model, "--task", "arithmetic", "--prompts", "2", "--samples", "2", "--max-tokens", "4", "--out", evalDir).Exit);
        var rows = Lines(Path.Combine(evalDir, "samples.jsonl"));
        Assert.All(rows, row => Assert.False(string.IsNullOrEmpty((string?)row["prompt"])));
        var greedy = rows.Where(row => (bool)row["greedy"]!).ToList();
        Assert.Equal(2, greedy.Count);
        Assert.All(greedy, row => Assert.Null(row["sample"]));
        Assert.Equal([0, 1, 0, 1], rows.Where(row => !(bool)row["greedy"]!).Select(row => (int)row["sample"]!));
        Assert.DoesNotContain("\\u003C", File.ReadAllText(Path.Combine(evalDir, "samples.jsonl")), StringComparison.OrdinalIgnoreCase);
    }

    // Item 11: the smaller things, each with a message that says what to do.
    [Fact]
    public void Small_mistakes_get_messages_that_say_what_to_do()
    {
        string model = Model();

        // tokenizer train: an empty corpus is refused; a corpus too small for --vocab-size says so.
        string empty = dir.File("empty.txt");
        File.WriteAllText(empty, "\n\n");
        UserError(R1("tokenizer", "train", "--corpus", empty, "--vocab-size", "300", "--out", dir.File("tok-empty")), "empty.txt", "no text");
        Assert.False(Directory.Exists(dir.File("tok-empty")));
        string small = dir.File("small.txt");
        File.WriteAllText(small, "abab abab abab\n");
        var shortTrain = R1("tokenizer", "train", "--corpus", small, "--vocab-size", "1000", "--out", dir.File("tok"));
        Assert.True(shortTrain.Exit == 0, shortTrain.ToString());
        Assert.Contains("of the 1000 ids asked for", shortTrain.Err);
        Assert.StartsWith("note: ", shortTrain.Err);

        // eval: quickstart is a task, labelled as such, and the unknown-task message lists it.
        UserError(R1("eval", "--model", model, "--task", "nosuch", "--prompts", "1"), "unknown task 'nosuch'", "quickstart");
        var quickstart = R1("eval", "--model", model, "--task", "quickstart", "--prompts", "1", "--samples", "1", "--max-tokens", "2", "--out", dir.File("eval-q"));
        Assert.True(quickstart.Exit == 0, quickstart.ToString());
        Assert.Contains("eval: quickstart", quickstart.Out);
        Assert.Equal("quickstart", (string)JsonNode.Parse(File.ReadAllText(dir.File("eval-q/eval.json")))!["task"]!);

        // inspect on a weight file points at the folder.
        UserError(R1("inspect", Path.Combine(model, "model.safetensors")), "model.safetensors", "pass the model folder");

        // A config error names the file and the key, never a .NET type.
        string corpus = dir.File("c.txt");
        File.WriteAllText(corpus, "1+1=2\n");
        foreach (var (name, json) in new[] { ("type.json", """{"max_steps": "many"}"""), ("null.json", "null"), ("range.json", """{"max_steps": 0}""") })
        {
            string path = dir.File(name);
            File.WriteAllText(path, json);
            var result = R1("pretrain", "--model", model, "--data", corpus, "--config", path, "--runs-dir", Runs);
            // A value of the wrong type names the file; one out of range names the key and its value.
            UserError(result, name == "range.json" ? "max_steps = 0" : name);
            Assert.DoesNotContain("R1Sharp.", result.Err);
            Assert.DoesNotContain("System.", result.Err);
            if (name != "null.json") Assert.Contains("max_steps", result.Err);
        }
        Assert.False(Directory.Exists(Runs) && Directory.EnumerateDirectories(Runs).Any(), "a refused config left a run folder");
    }
}
