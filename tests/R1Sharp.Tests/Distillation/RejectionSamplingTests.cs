using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Distillation;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tasks.Synthetic;
using R1Sharp.Training;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Distillation;

public class RejectionSamplingTests
{
    static readonly ArithmeticTask Task = new();
    static readonly TaskExample Example = new("q", [ChatMessage.User("What is 457+86?")], "543", 3);

    static DistillationTrace Trace(string completion, bool finished = true, int tokens = 10) =>
        new(Example.Id, Example.Prompt, Example.Answer, completion, TemplateOpenedThink: true, tokens,
            TraceVerdict.Judge(Task, Example, completion, finished, templateOpenedThink: true));

    [Fact]
    public void Only_right_well_formed_finished_completions_are_accepted()
    {
        Assert.True(Trace("7+6=13 5+8+1=14 4+0+1=5\n</think>\n543").Verdict.Accepted);
        Assert.False(Trace("7+6=13 5+8+1=14 4+0+1=5\n</think>\n544").Verdict.Accepted);                 // wrong answer
        Assert.False(Trace("</think>\n543").Verdict.Accepted);                                         // no reasoning
        Assert.False(Trace("7+6=13 5+8+1=14 4+0+1=5 so 543").Verdict.Accepted);                        // think never closed
        Assert.False(Trace("<think>7+6=13</think>\n543").Verdict.Accepted);                            // a second think block
        Assert.False(Trace("7+6=13 5+8+1=14 4+0+1=5\n</think>\n543", finished: false).Verdict.Accepted); // cut at the token limit
        var malformed = Trace("</think>\n543").Verdict;
        Assert.True(malformed.Correct);
        Assert.False(malformed.WellFormed);
    }

    [Fact]
    public void Kept_traces_are_distinct_accepted_and_with_shortest_one_per_prompt()
    {
        var candidates = new[]
        {
            Trace("long work\n</think>\n543", tokens: 12), Trace("wrong\n</think>\n1", tokens: 4),
            Trace("work\n</think>\n543", tokens: 8), Trace("long work\n</think>\n543", tokens: 12),
        };
        var kept = RejectionSampler.Select(candidates, TraceKeep.Correct, shortest: false);
        Assert.Equal(["long work\n</think>\n543", "work\n</think>\n543"], kept.Select(t => t.Completion));
        Assert.Equal(["work\n</think>\n543"], RejectionSampler.Select(candidates, TraceKeep.Correct, shortest: true).Select(t => t.Completion));
        Assert.Equal(3, RejectionSampler.Select(candidates, TraceKeep.All, shortest: false).Count);
    }

    [Fact]
    public void A_trace_line_is_chat_sft_data_with_the_reasoning_inside_think()
    {
        var line = Trace("7+6=13\n</think>\n543").ToJson();
        Assert.Equal("What is 457+86?", line["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal("assistant", line["messages"]![1]!["role"]!.GetValue<string>());
        Assert.Equal("<think>\n7+6=13\n</think>\n543", line["messages"]![1]!["content"]!.GetValue<string>());
        Assert.Equal("543", line["answer"]!.GetValue<string>());
        Assert.Equal("q", line["prompt_id"]!.GetValue<string>());
    }

    [Fact]
    public void Sampling_a_model_keeps_exactly_its_verified_well_formed_completions()
    {
        using var folder = new TempDir("r1-sample-");
        var task = DatasetTask.Load(TinyTeacher.PromptsFile(folder, 0, TinyTeacher.PromptCount));
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        var options = new RejectionSamplingOptions { Samples = 8, Prompts = TinyTeacher.PromptCount, Temperature = 1, TopP = 1, MaxTokens = 16, Seed = 7 };
        var all = RejectionSampler.Run(teacher, task, TaskSplit.Train, options with { Keep = TraceKeep.All });
        var kept = RejectionSampler.Run(teacher, task, TaskSplit.Train, options);

        // The teacher writes right, wrong and malformed answers, so the filter has something to do.
        Assert.Contains(all.Traces, t => t.Verdict.Accepted);
        Assert.Contains(all.Traces, t => !t.Verdict.Correct);
        Assert.Contains(all.Traces, t => t.Verdict.Correct && !t.Verdict.WellFormed);
        // Kept: every accepted distinct completion, and nothing else; each one re-grades as right.
        Assert.Equal(all.Traces.Where(t => t.Verdict.Accepted).Select(t => (t.PromptId, t.Completion)), kept.Traces.Select(t => (t.PromptId, t.Completion)));
        foreach (var trace in kept.Traces)
            Assert.True(task.IsCorrect(trace.Completion, "1", templateOpenedThink: true) && trace.Completion.Contains("</think>") && trace.Completion.Split("</think>")[0].Trim().Length > 0);

        var summary = kept.Summary;
        Assert.Equal(TinyTeacher.PromptCount * 8, summary.Samples);
        Assert.Equal(summary.PerPrompt.Sum(p => p.Accepted), summary.Accepted);
        Assert.Equal((double)summary.Accepted / summary.Samples, summary.AcceptanceRate, 9);
        Assert.InRange(summary.AcceptanceRate, 0.05, 0.95);
        Assert.Equal(kept.Traces.Count, summary.PerPrompt.Sum(p => p.Kept));
        Assert.All(summary.PerPrompt, p => Assert.InRange(p.Kept, 0, p.Accepted));
    }

    [Fact]
    public void R1_sample_writes_traces_sft_can_train_on_and_a_summary_beside_them()
    {
        using var folder = new TempDir("r1-sample-cli-");
        string prompts = TinyTeacher.PromptsFile(folder, 0, 6), traces = Path.Combine(folder, "traces.jsonl");
        Assert.Equal(0, CliApp.Run(["sample", "--model", TinyTeacher.Directory, "--data", prompts, "--samples", "6", "--out", traces,
            "--temperature", "1", "--top-p", "1", "--max-tokens", "16", "--shortest"]));
        var summary = RejectionSamplingSummary.Load(Path.Combine(folder, "traces.summary.json"));
        var lines = File.ReadAllLines(traces);
        Assert.Equal(summary.TracesWritten, lines.Length);
        Assert.Equal(6, summary.PerPrompt.Count);
        // --shortest: at most one trace per prompt.
        Assert.Equal(lines.Length, lines.Select(l => JsonNode.Parse(l)!["prompt_id"]!.GetValue<string>()).Distinct().Count());
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        Assert.Equal(lines.Length, SftDataset.Load(traces, teacher).Count);

        Assert.Equal(2, CliApp.Run(["sample", "--model", TinyTeacher.Directory, "--data", prompts, "--out", traces, "--keep", "some"]));
        Assert.Equal(2, CliApp.Run(["sample", "--model", TinyTeacher.Directory, "--out", traces]));
    }
}
