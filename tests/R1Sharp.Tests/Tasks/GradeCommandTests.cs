using System.CommandLine;
using System.Text.Json.Nodes;
using R1Sharp.Cli.Commands;

namespace R1Sharp.Tests.Tasks;

public sealed class GradeCommandTests : IDisposable
{
    readonly TempDir _dir = new("r1-grade-");

    public void Dispose() => _dir.Dispose();

    static int Run(params string[] args)
    {
        var root = new RootCommand { GradeCommand.Create() };
        return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    [Fact]
    public void Grade_writes_each_line_back_with_correct()
    {
        string input = Path.Combine(_dir, "in.jsonl"), output = Path.Combine(_dir, "out.jsonl");
        File.WriteAllLines(input,
        [
            """{"id": 1, "prediction": "So the answer is $\\boxed{\\frac{1}{2}}$.", "gold": "0.5"}""",
            """{"id": 2, "prediction": "#### 1,000", "gold": 1000}""",
            """{"id": 3, "prediction": "\\boxed{3} or \\boxed{4}", "gold": "3"}""",
            "",
            """{"id": 4, "prediction": "<think>\\boxed{7}</think>", "gold": "7"}""",
        ]);
        Assert.Equal(0, Run("grade", "--jsonl", input, "--out", output));
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal([true, true, false, false], lines.Select(l => (bool)l["correct"]!));
        Assert.Equal([1, 2, 3, 4], lines.Select(l => (int)l["id"]!));
        Assert.Equal("0.5", (string)lines[0]["gold"]!);
    }

    [Fact]
    public void Labelled_lines_are_counted_against_their_label()
    {
        string input = Path.Combine(_dir, "corpus.jsonl");
        File.WriteAllLines(input,
        [
            """{"prediction": "\\boxed{4,\\!096}", "gold": "4096", "expected": true}""",
            """{"prediction": "\\boxed{96, 4}", "gold": "4,\\!096", "expected": false}""",
            """{"prediction": "\\boxed{7}", "gold": "7", "expected": false}""",  // a wrong label: graded right, counted as a false accept
            """{"prediction": "\\boxed{8}", "gold": "9", "expected": true}""",   // and a false reject
            """{"prediction": "\\boxed{1}", "gold": "1"}""",                     // no label: graded, not counted
        ]);
        var graded = R1Sharp.Evaluation.Evaluator.GradeJsonl(input);
        Assert.Equal(5, graded.Lines.Count);
        Assert.Equal((4, 2, 1, 1), (graded.Labels.Pairs, graded.Labels.MustPass, graded.Labels.FalseAccepts, graded.Labels.FalseRejects));
        Assert.Equal("agreement 50.00% on 4 labelled pairs (2 must pass, 2 must fail): 1 false accepts, 1 false rejects", graded.Labels.ToString());
        Assert.Equal(0, Run("grade", "--jsonl", input, "--out", Path.Combine(_dir, "out.jsonl")));
    }

    [Fact]
    public void A_label_that_is_not_a_boolean_is_an_error_naming_line_and_field()
    {
        string input = Path.Combine(_dir, "in.jsonl");
        File.WriteAllLines(input, ["""{"prediction": "1", "gold": "1", "expected": "yes"}"""]);
        var error = Assert.Throws<R1Error>(() => Run("grade", "--jsonl", input));
        Assert.Contains("in.jsonl:1", error.Message);
        Assert.Contains("'expected'", error.Message);
    }

    [Fact]
    public void A_missing_field_is_an_error_naming_line_and_field_and_writes_nothing()
    {
        string input = Path.Combine(_dir, "in.jsonl"), output = Path.Combine(_dir, "out.jsonl");
        File.WriteAllLines(input, ["""{"prediction": "1", "gold": "1"}""", """{"prediction": "1"}"""]);
        var error = Assert.Throws<R1Error>(() => Run("grade", "--jsonl", input, "--out", output));
        Assert.Contains("in.jsonl:2", error.Message);
        Assert.Contains("'gold'", error.Message);
        Assert.False(File.Exists(output));
    }
}
