using R1Sharp.Evaluation;
using R1Sharp.Tasks;

namespace R1Sharp.Tests.Evaluation;

public sealed class EvaluatorTests : IDisposable
{
    readonly TempDir _dir = new("r1-eval-");

    public void Dispose() => _dir.Dispose();

    static EvalSample S(string answer, int tokens = 10, bool hitLimit = false) =>
        new($"<think>\nwork\n</think>\n\\boxed{{{answer}}}", tokens, hitLimit);

    /// <summary>Two prompts, four samples each; every metric below is worked out by hand.</summary>
    static IReadOnlyList<PromptSamples> Prompts() =>
    [
        // Gold 4: correct 1 of 4 (the "0.5"s agree with each other, so the majority "1/2" is wrong).
        new("p1", "4", [S("4", 10), S("0.5", 20), S("\\frac12", 30), S("3", 40, hitLimit: true)], Greedy: S("4")),
        // Gold \frac{1}{3}: correct 3 of 4; one sample has no answer.
        new("p2", "\\frac{1}{3}", [S("1/3", 50), new EvalSample("<think>\nhmm", 60, true), S("\\frac{2}{6}", 70), S("\\dfrac13", 80)], Greedy: S("0.33")),
    ];

    [Fact]
    public void Metrics_match_hand_computed_values()
    {
        var task = TaskCatalog.Create("arithmetic"); // grades with the math checker
        var result = Evaluator.Evaluate(task, Prompts(), new EvalSettings("tiny", 0.6, 0.95, 100, 0));
        var report = result.Report;
        Assert.Equal(2, report.Prompts);
        Assert.Equal(4, report.SamplesPerPrompt);
        Assert.Equal((1 / 4.0 + 3 / 4.0) / 2, report.PassAt1, 12);
        // pass@2: p1 1 - C(3,2)/C(4,2) = 1/2; p2 1 - C(1,2)/C(4,2) = 1.
        Assert.Equal((0.5 + 1.0) / 2, report.PassAtK[2], 12);
        Assert.Equal(1.0, report.PassAtK[4], 12);
        Assert.Equal([1, 2, 4], report.PassAtK.Keys.Order());
        // cons@4: p1 majority "1/2" (2 votes) is wrong; p2 majority "1/3" (3 votes) is right.
        Assert.Equal(0.5, report.ConsAtK, 12);
        // greedy: p1 right, p2 ("0.33") wrong.
        Assert.Equal(0.5, report.GreedyAccuracy);
        Assert.Equal((10 + 20 + 30 + 40 + 50 + 60 + 70 + 80) / 8.0, report.MeanResponseTokens, 12);
        Assert.Equal(2 / 8.0, report.HitLimitShare, 12);
        Assert.Equal(1 / 8.0, report.NoAnswerShare, 12);

        Assert.Equal(10, result.Samples.Count); // 8 samples + 2 greedy
        Assert.Equal([true, false, false, false], result.Samples.Where(s => s.PromptId == "p1" && !s.Greedy).Select(s => s.Correct));
        Assert.Equal("1/2", result.Samples.Single(s => s.PromptId == "p1" && s.Sample == 1).Answer);
    }

    [Fact]
    public void Greedy_accuracy_is_absent_without_greedy_samples_and_empty_input_is_an_error()
    {
        var task = TaskCatalog.Create("arithmetic");
        var report = Evaluator.Evaluate(task, [new PromptSamples("p", "1", [S("1")])]).Report;
        Assert.Null(report.GreedyAccuracy);
        Assert.Equal(1, report.PassAt1);
        Assert.Throws<R1Error>(() => Evaluator.Evaluate(task, []));
        Assert.Throws<R1Error>(() => Evaluator.Evaluate(task, [new PromptSamples("p", "1", [])]));
    }

    [Fact]
    public void Report_round_trips_through_eval_json_and_renders_a_table()
    {
        var result = Evaluator.Evaluate(TaskCatalog.Create("arithmetic"), Prompts(), new EvalSettings("tiny", 0.6, 0.95, 100, 0));
        string path = Path.Combine(_dir, "eval.json");
        result.Report.Save(path);
        string json = File.ReadAllText(path);
        Assert.Contains("\"pass@1\"", json);
        Assert.Contains("\"cons@k\"", json);
        var loaded = EvalReport.Load(path);
        Assert.Equal(result.Report.PassAt1, loaded.PassAt1);
        Assert.Equal(result.Report.PassAtK[2], loaded.PassAtK[2]);
        Assert.Equal("tiny", loaded.Settings!.Model);

        var text = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(text),
            Ansi = Spectre.Console.AnsiSupport.No,
            ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
        });
        console.Write(R1Sharp.Cli.Commands.EvalCommand.Table(result.Report));
        Assert.Contains("pass@1", text.ToString());
        Assert.Contains("cons@4", text.ToString());
        Assert.Contains("50.0%", text.ToString());

        string samples = Path.Combine(_dir, "samples.jsonl");
        ScoredSample.WriteJsonl(samples, result.Samples);
        Assert.Equal(result.Samples.Count, File.ReadAllLines(samples).Length);
        Assert.Contains("\"prompt_id\":\"p1\"", File.ReadAllLines(samples)[0]);
    }
}
