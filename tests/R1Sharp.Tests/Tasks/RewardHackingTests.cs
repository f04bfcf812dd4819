using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tests.Tasks;

/// <summary>Completions that try to collect the accuracy reward without answering must score 0 accuracy.</summary>
public class RewardHackingTests
{
    static readonly ArithmeticTask Task = new();
    static readonly TaskExample Example = Task.Examples(TaskSplit.Train, 0).First(e => long.Parse(e.Answer) > 10);
    static string Gold => Example.Answer;
    static long GoldValue => long.Parse(Gold);

    static double Accuracy(string completion, bool templateOpenedThink = false) =>
        Task.Score(Example, completion, templateOpenedThink: templateOpenedThink).Accuracy;

    [Fact]
    public void The_honest_answer_scores()
    {
        Assert.Equal(1, Accuracy($"<think>\nadd\n</think>\n{Gold}"));
        Assert.Equal(1, Accuracy($"<think>\nadd\n</think>\n\\boxed{{{Gold}}}"));
    }

    [Fact]
    public void Several_different_boxed_answers_score_zero()
    {
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{{GoldValue - 1}}} \\boxed{{{Gold}}} \\boxed{{{GoldValue + 1}}}"));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{{Gold}}} or maybe \\boxed{{{GoldValue + 1}}}"));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\nThe answer is {Gold}. The answer is {GoldValue + 1}."));
    }

    [Fact]
    public void A_box_stuffed_with_candidates_scores_zero()
    {
        string candidates = string.Join(", ", Enumerable.Range(0, 50).Select(i => GoldValue - 25 + i));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{{candidates}}}"));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{{Gold} \\text{{ or }} {GoldValue + 1}}}"));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{\\pm {Gold}}}"));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{[{GoldValue - 100}, {GoldValue + 100}]}}"));
    }

    [Fact]
    public void An_empty_answer_scores_zero()
    {
        Assert.Equal(0, Accuracy("<think>\nx\n</think>\n\\boxed{}"));
        Assert.Equal(0, Accuracy("<think>\nx\n</think>\n"));
        Assert.Equal(0, Accuracy(""));
        Assert.Equal(0, Accuracy("<answer></answer>"));
    }

    [Fact]
    public void An_answer_only_inside_the_reasoning_scores_zero()
    {
        Assert.Equal(0, Accuracy($"<think>\nThe answer is \\boxed{{{Gold}}}.\n</think>\nI could not decide."));
        Assert.Equal(0, Accuracy($"<think>\nThe answer is \\boxed{{{Gold}}}."));  // never closed
        Assert.Equal(0, Accuracy($"The answer is {Gold}.", templateOpenedThink: true));  // still inside the template's <think>
        Assert.Equal(0, Accuracy($"<think>a</think>\n<think>\\boxed{{{Gold}}}"));  // a second, unclosed think block
    }

    [Fact]
    public void A_huge_output_scores_zero()
    {
        string filler = string.Concat(Enumerable.Repeat($"{Gold} ", 100_000));
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n{filler}\\boxed{{{Gold}}}"));
        Assert.Equal(0, Accuracy($"<think>\n{filler}\n</think>\n\\boxed{{{Gold}}}"));
        // Equal to the gold in value, but far longer than any real answer.
        Assert.Equal(0, Accuracy($"<think>\nx\n</think>\n\\boxed{{{Gold}{string.Concat(Enumerable.Repeat("+0", 600))}}}"));
    }
}
