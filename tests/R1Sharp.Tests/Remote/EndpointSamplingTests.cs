using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Distillation;
using R1Sharp.Evaluation;
using R1Sharp.Remote;
using R1Sharp.Server;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tests.Cli;
using R1Sharp.Tests.Distillation;

namespace R1Sharp.Tests.Remote;

/// <summary>
/// `r1 sample --endpoint` and `r1 eval --endpoint` against real HTTP servers in this process: `r1 serve`'s own server
/// over the tiny teacher of the distillation tests, and a stub that answers 429s, 500s, dropped connections and
/// thinking in every field a server uses.
/// </summary>
public class EndpointSamplingTests
{
    static readonly RejectionSamplingOptions Sampling = new() { Samples = 4, Prompts = 6, Temperature = 1, TopP = 1, MaxTokens = 16, Seed = 7 };

    static OpenAiEndpoint Client(string url, string model, int concurrency = 4, string? key = null) => new(new EndpointOptions
    {
        Url = url, Model = model, Concurrency = concurrency, RequestTimeoutSeconds = 60, FirstRetryDelaySeconds = 0.01, MaxRetryDelaySeconds = 0.05,
    }, key);

    static (string Prompt, string Completion)[] Pairs(string tracesPath) => File.ReadAllLines(tracesPath).Select(line =>
    {
        var messages = JsonNode.Parse(line)!["messages"]!.AsArray();
        return ((string)JsonNode.Parse(line)!["prompt_id"]!, (string)messages[^1]!["content"]!);
    }).ToArray();

    [Fact]
    public async Task Teacher_sampling_against_r1_serve_keeps_the_traces_local_sampling_keeps()
    {
        using var folder = new TempDir("r1-endpoint-sample-");
        var task = DatasetTask.Load(TinyTeacher.PromptsFile(folder, 0, Sampling.Prompts));
        var local = RejectionSampler.Run(TinyTeacher.Directory, task, TaskSplit.Train, Sampling, Path.Combine(folder, "local.jsonl"));

        await using var server = await R1Server.StartAsync(new ServerOptions(TinyTeacher.Directory) { Host = "127.0.0.1", Port = 0 });
        using var endpoint = Client(new Uri(server.BaseAddress, "v1").ToString(), server.Service.ModelId);
        string tracesPath = Path.Combine(folder, "remote.jsonl");
        // Killed once two prompts are done (one prompt at a time, so exactly two), then rerun to the end four wide.
        using var kill = new CancellationTokenSource();
        using (var oneAtATime = Client(new Uri(server.BaseAddress, "v1").ToString(), server.Service.ModelId, concurrency: 1))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RejectionSampler.RunAsync(oneAtATime, task, TaskSplit.Train, Sampling, tracesPath,
                (done, _) => { if (done == 2) kill.Cancel(); }, kill.Token));
        var summary = await RejectionSampler.RunAsync(endpoint, task, TaskSplit.Train, Sampling, tracesPath);
        Assert.Equal(2, summary.ResumedPrompts);

        // Each sample is its own request, seeded so the server draws what local sampling drew: the same verdicts, the same traces.
        Assert.Equal(local.Summary.PerPrompt, summary.PerPrompt);
        Assert.Equal(Pairs(Path.Combine(folder, "local.jsonl")).Select(p => (p.Prompt, Normalize(p.Completion))),
            Pairs(tracesPath).Select(p => (p.Prompt, Normalize(p.Completion))));
        Assert.NotEmpty(local.Traces);
        Assert.InRange(summary.AcceptanceRate, 0.05, 0.95); // the filter had right and wrong answers to sort
        var usage = summary.Endpoint!;
        Assert.Equal(0L, usage.Retries);
        Assert.InRange(usage.Requests, Sampling.Prompts * Sampling.Samples, Sampling.Prompts * Sampling.Samples + Sampling.Samples * endpoint.Options.Concurrency);
        Assert.True(usage.CompletionTokens > 0 && usage.PromptTokens > 0 && usage.Seconds > 0);
        Assert.Equal(summary, RejectionSamplingSummary.Load(RejectionSamplingSummary.PathFor(tracesPath)) with { PerPrompt = summary.PerPrompt });
    }

    /// <summary>A trace's assistant message without the whitespace around its think markers (a server splits reasoning
    /// from answer and may trim either side).</summary>
    static string Normalize(string message) => string.Join("</think>", message.Split("</think>").Select(part => part.Trim()));

    [Fact]
    public async Task Endpoint_evaluation_of_r1_serve_gives_the_greedy_accuracy_of_local_evaluation_and_the_same_files()
    {
        using var folder = new TempDir("r1-endpoint-eval-");
        string prompts = TinyTeacher.PromptsFile(folder, 0, 8), localDir = Path.Combine(folder, "local"), remoteDir = Path.Combine(folder, "remote");
        const string key = "sk-endpoint-test-5b1f0c";
        await using var server = await R1Server.StartAsync(new ServerOptions(TinyTeacher.Directory) { Host = "127.0.0.1", Port = 0, ApiKey = key });
        string variable = "R1_TEST_ENDPOINT_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, key);
        try
        {
            string[] common = ["--data", prompts, "--samples", "2", "--temperature", "1", "--top-p", "1", "--max-tokens", "16", "--threads", "1"];
            Assert.Equal(0, CliApp.Run(["eval", "--model", TinyTeacher.Directory, "--out", localDir, .. common]));
            Assert.Equal(0, CliApp.Run(["eval", "--endpoint", new Uri(server.BaseAddress, "v1").ToString(), "--endpoint-model", server.Service.ModelId,
                "--api-key-env", variable, "--concurrency", "3", "--out", remoteDir, .. common]));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        var localReport = JsonNode.Parse(File.ReadAllText(Path.Combine(localDir, "eval.json")))!;
        var remoteReport = JsonNode.Parse(File.ReadAllText(Path.Combine(remoteDir, "eval.json")))!;
        Assert.NotNull(localReport["greedy_accuracy"]);
        Assert.Equal((double)localReport["greedy_accuracy"]!, (double)remoteReport["greedy_accuracy"]!);
        foreach (string metric in new[] { "pass@1", "cons@k", "prompts", "samples_per_prompt" })
            Assert.Equal(localReport[metric]!.ToJsonString(), remoteReport[metric]!.ToJsonString());
        Assert.Equal(8 * 3, (int)remoteReport["endpoint"]!["requests"]!); // k samples and the greedy one, per prompt
        Assert.Equal(File.ReadAllLines(Path.Combine(localDir, "samples.jsonl")).Length, File.ReadAllLines(Path.Combine(remoteDir, "samples.jsonl")).Length);
        // The key went only into the requests' headers.
        foreach (string file in Directory.GetFiles(remoteDir)) Assert.DoesNotContain(key, File.ReadAllText(file));

        // Without the key the server refuses, and the run fails at once (a 401 is not retried) saying what to check.
        var refused = InspectWeightCheckTests.R1("eval", "--endpoint", new Uri(server.BaseAddress, "v1").ToString(), "--endpoint-model", server.Service.ModelId,
            "--data", prompts, "--out", Path.Combine(folder, "refused"));
        Assert.Equal(2, refused.Exit);
        Assert.Contains("401", refused.Errors);
        Assert.Contains("--api-key-env", refused.Errors);
    }

    [Fact]
    public async Task Gsm8k_and_math500_files_are_asked_with_r1s_instruction_and_graded_by_r1s_protocol()
    {
        using var folder = new TempDir("r1-endpoint-datasets-");
        string gsm8k = Path.Combine(folder, "gsm8k.jsonl"), math500 = Path.Combine(folder, "math500.jsonl");
        File.WriteAllLines(gsm8k, [
            """{"question": "Tom has 3 apples and buys 4 more. How many apples does he have?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"}""",
            """{"question": "A box holds 6 eggs. How many eggs are in 5 boxes?", "answer": "6 * 5 = <<6*5=30>>30\n#### 30"}""",
        ]);
        File.WriteAllLines(math500, [
            """{"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "solution": "It is $\\boxed{\\frac34}$.", "answer": "\\frac{3}{4}", "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"}""",
            """{"problem": "Compute $2^{10}$.", "solution": "$2^{10} = \\boxed{1024}$.", "answer": "1024", "subject": "Algebra", "level": 2, "unique_id": "test/algebra/2.json"}""",
        ]);
        // The teacher gets the first question of each file right (in R1's boxed form, 0.75 for 3/4) and the second wrong, except greedily.
        await using var stub = await StubEndpoint.StartAsync(request =>
        {
            string question = request.UserText;
            bool greedy = (double)request.Body["temperature"]! == 0;
            string answer = question.Contains("apples") ? "7" : question.Contains("eggs") ? (greedy ? "30" : "35")
                : question.Contains("frac") ? "0.75" : greedy ? "1024" : "1000";
            return new StubAnswer.Reply("Let me work it out.", $"The answer is $\\boxed{{{answer}}}$.");
        });
        foreach (string file in new[] { gsm8k, math500 })
        {
            string outDir = Path.Combine(folder, Path.GetFileNameWithoutExtension(file));
            Assert.Equal(0, CliApp.Run(["eval", "--endpoint", stub.Url, "--endpoint-model", "teacher", "--data", file, "--samples", "4", "--out", outDir]));
            var report = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "eval.json")))!;
            Assert.Equal((0.5, 0.5, 1.0), ((double)report["pass@1"]!, (double)report["cons@k"]!, (double)report["greedy_accuracy"]!));
            Assert.Equal((0.6, 0.95), ((double)report["settings"]!["temperature"]!, (double)report["settings"]!["top_p"]!)); // R1's defaults
            Assert.Equal(2 * (4 + 1), File.ReadAllLines(Path.Combine(outDir, "samples.jsonl")).Length); // k samples and the greedy one
        }
        Assert.Equal(2 * 2 * 5, stub.Requests.Count);
        Assert.All(stub.Requests, r => Assert.EndsWith("\nPlease reason step by step, and put your final answer within \\boxed{}.", r.UserText));
    }

    /// <summary>
    /// The stub's teacher: per prompt and seed a fixed reply — right (its thinking in reasoning_content, reasoning, or a
    /// &lt;think&gt; block of content), wrong, or without thinking — so a run's traces depend only on what was asked.
    /// </summary>
    static StubAnswer Teacher(StubRequest request)
    {
        uint seed = (uint)request.Seed!.Value;
        string prompt = request.UserText;
        return (seed % 5) switch
        {
            0 => new StubAnswer.Reply($"add {prompt}", "1"),
            1 => new StubAnswer.Reply(null, "1", Reasoning: $"sum {prompt}"),
            2 => new StubAnswer.Reply(null, $"<think>inline {prompt}</think>1"),
            3 => new StubAnswer.Reply($"add {prompt}", "2"),
            _ => new StubAnswer.Reply(null, "1"),
        };
    }

    [Fact]
    public async Task A_killed_teacher_run_against_a_failing_server_resumes_and_keeps_every_verified_trace_exactly_once()
    {
        using var folder = new TempDir("r1-endpoint-resume-");
        var options = Sampling with { Prompts = 12, Samples = 5 };
        string promptsPath = TinyTeacher.PromptsFile(folder, 0, options.Prompts);
        var task = DatasetTask.Load(promptsPath);

        // The reference: one run against a server that never fails.
        string cleanPath = Path.Combine(folder, "clean.jsonl");
        await using (var healthy = await StubEndpoint.StartAsync(Teacher))
        {
            using var endpoint = Client(healthy.Url, "teacher");
            await RejectionSampler.RunAsync(endpoint, task, TaskSplit.Train, options, cleanPath);
        }
        var clean = Pairs(cleanPath);
        Assert.NotEmpty(clean);
        Assert.Equal(clean.Length, clean.Distinct().Count());
        Assert.All(clean, p => Assert.True(task.IsCorrect(p.Completion, "1", templateOpenedThink: false), p.Completion));
        // Thinking from every field made it into traces; replies without thinking and wrong ones did not.
        Assert.Contains(clean, p => p.Completion.Contains("add p"));
        Assert.Contains(clean, p => p.Completion.Contains("sum p"));
        Assert.Contains(clean, p => p.Completion.Contains("inline p"));

        // A flaky server: every third request is a 429 (Retry-After 0), 500 or dropped connection; the run is killed
        // when the 30th request arrives, with prompts in flight.
        string tracesPath = Path.Combine(folder, "traces.jsonl");
        using var kill = new CancellationTokenSource();
        await using (var flaky = await StubEndpoint.StartAsync(request =>
        {
            if (request.Number == 30) kill.Cancel();
            return (request.Number % 9) switch
            {
                3 => new StubAnswer.Error(429, "rate limited", RetryAfter: "0"),
                6 => new StubAnswer.Error(500, "internal"),
                0 => new StubAnswer.Drop(),
                _ => Teacher(request),
            };
        }))
        {
            using var endpoint = Client(flaky.Url, "teacher", concurrency: 3);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RejectionSampler.RunAsync(endpoint, task, TaskSplit.Train, options, tracesPath, cancellation: kill.Token));
        }
        var partial = RejectionSamplingSummary.Load(RejectionSamplingSummary.PathFor(tracesPath));
        Assert.InRange(partial.Prompts, 1, options.Prompts - 1);
        Assert.True(partial.Endpoint!.Retries > 0);
        Assert.Equal(clean.Take(Pairs(tracesPath).Length), Pairs(tracesPath));
        // A kill in the middle of writing: a torn trace line, and a torn journal line.
        File.AppendAllText(tracesPath, "{\"messages\": [{\"role\": \"us");
        File.AppendAllText(TraceJournal.PathFor(tracesPath), "{\"prompt\": 9");

        // The rerun, through the CLI, resumes: prompts already done are not asked again, and the file ends as the clean run's.
        await using var server = await StubEndpoint.StartAsync(request => request.Number % 4 == 1 ? new StubAnswer.Error(503, "busy") : Teacher(request));
        string[] rerun = ["sample", "--endpoint", server.Url, "--endpoint-model", "teacher", "--data", promptsPath, "--samples", "5", "--prompts", "12",
            "--temperature", "1", "--top-p", "1", "--max-tokens", "16", "--seed", "7", "--out", tracesPath, "--concurrency", "2", "--max-attempts", "4"];
        Assert.Equal(0, CliApp.Run(rerun));
        Assert.Equal(clean, Pairs(tracesPath));
        Assert.Equal(File.ReadAllBytes(cleanPath), File.ReadAllBytes(tracesPath));
        int asked = server.Requests.Count(r => r.Number % 4 != 1);
        Assert.Equal((options.Prompts - partial.Prompts) * options.Samples, asked);
        var summary = RejectionSamplingSummary.Load(RejectionSamplingSummary.PathFor(tracesPath));
        Assert.Equal((options.Prompts, partial.Prompts, clean.Length), (summary.Prompts, summary.ResumedPrompts!.Value, summary.TracesWritten));
        Assert.True(summary.Endpoint!.Requests > partial.Endpoint.Requests && summary.Endpoint.Retries > partial.Endpoint.Retries);

        // Once everything is done, a rerun asks nothing; other settings for the same file are refused by name.
        int before = server.Requests.Count;
        Assert.Equal(0, CliApp.Run(rerun));
        Assert.Equal(before, server.Requests.Count);
        Assert.Equal(File.ReadAllBytes(cleanPath), File.ReadAllBytes(tracesPath));
        rerun[Array.IndexOf(rerun, "--temperature") + 1] = "0.6";
        var changed = InspectWeightCheckTests.R1(rerun);
        Assert.Equal(2, changed.Exit);
        Assert.Contains("temperature 1 → 0.6", changed.Errors);
    }

    [Fact]
    public void Endpoint_flags_are_checked_before_any_request()
    {
        using var folder = new TempDir("r1-endpoint-flags-");
        string prompts = TinyTeacher.PromptsFile(folder, 0, 2), traces = Path.Combine(folder, "t.jsonl");
        string Error(params string[] args)
        {
            var run = InspectWeightCheckTests.R1(args);
            Assert.Equal(2, run.Exit);
            return run.Errors;
        }
        Assert.Contains("--endpoint-model", Error("sample", "--endpoint", "http://127.0.0.1:1/v1", "--data", prompts, "--out", traces));
        Assert.Contains("exactly one of --model and --endpoint", Error("eval", "--data", prompts));
        Assert.Contains("exactly one of --model and --endpoint", Error("eval", "--model", "m", "--endpoint", "http://127.0.0.1:1/v1", "--endpoint-model", "x", "--data", prompts));
        Assert.Contains("needs --endpoint", Error("eval", "--model", TinyTeacher.Directory, "--endpoint-model", "x", "--data", prompts));
        Assert.Contains("--concurrency needs --endpoint", Error("sample", "--model", TinyTeacher.Directory, "--concurrency", "4", "--data", prompts, "--out", traces));
        Assert.Contains("R1_SURELY_UNSET_VARIABLE", Error("sample", "--endpoint", "http://127.0.0.1:1/v1", "--endpoint-model", "x",
            "--api-key-env", "R1_SURELY_UNSET_VARIABLE", "--data", prompts, "--out", traces));
        Assert.Contains("concurrency", Error("eval", "--endpoint", "http://127.0.0.1:1/v1", "--endpoint-model", "x", "--concurrency", "0", "--data", prompts));
        Assert.Contains("http", Error("eval", "--endpoint", "127.0.0.1:8080", "--endpoint-model", "x", "--data", prompts));
        Assert.False(File.Exists(traces));
    }
}
