using R1Sharp.Tasks;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tests.Tasks;

public class SyntheticTaskTests
{
    public static TheoryData<string> TaskNames => new(TaskCatalog.Names);

    static string Final(TaskExample e) => e.Solution![(e.Solution!.LastIndexOf("</think>") + "</think>".Length)..].Trim();

    /// <summary>Wrong versions of a worked solution: the final answer changed in ways that change its value.</summary>
    static IEnumerable<string> Perturbed(string taskName, TaskExample e, Random random)
    {
        string head = e.Solution![..(e.Solution!.LastIndexOf("</think>") + "</think>".Length)] + "\n";
        if (taskName == "countdown")
        {
            string expression = e.Answer;
            // Change one number by one (each given number is used exactly once, so the new one is unavailable or reused).
            var digits = System.Text.RegularExpressions.Regex.Matches(expression, @"\d+").ToList();
            var pick = digits[random.Next(digits.Count)];
            yield return head + expression[..pick.Index] + (long.Parse(pick.Value) + 1) + expression[(pick.Index + pick.Length)..];
            yield return head + $"({expression})+1";          // an extra number
            yield return head + $"({expression})*{digits[0].Value}"; // a number used twice
            yield return head + $"({expression})-({expression})";
        }
        else
        {
            long answer = long.Parse(e.Answer);
            yield return head + (answer + 1);
            yield return head + (answer - 1);
            yield return head + (answer == 0 ? 7 : answer * 10);
            yield return head + (answer == 0 ? 1 : -answer);
        }
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Each_task_accepts_its_own_worked_solutions_and_rejects_perturbed_ones(string name)
    {
        var task = TaskCatalog.Create(name);
        var random = new Random(7);
        foreach (var split in new[] { TaskSplit.Train, TaskSplit.Test, TaskSplit.Harder })
            foreach (var example in task.Examples(split, seed: 3).Take(150))
            {
                Assert.True(task.IsCorrect(example.Solution!, example.Answer), $"{name}: own solution rejected:\n{example.Solution}");
                Assert.True(task.IsCorrect(Final(example), example.Answer), $"{name}: own final answer rejected: {Final(example)}");
                foreach (var wrong in Perturbed(name, example, random))
                    Assert.False(task.IsCorrect(wrong, example.Answer), $"{name}: perturbed solution accepted:\n{wrong}\nfor {example.Answer}");
            }
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Train_and_test_never_share_a_problem(string name)
    {
        var task = TaskCatalog.Create(name);
        var train = task.Examples(TaskSplit.Train, seed: 1).Take(3000).Select(e => e.Id).ToHashSet();
        foreach (int seed in new[] { 1, 2 })
        {
            Assert.DoesNotContain(task.Examples(TaskSplit.Test, seed).Take(500), e => train.Contains(e.Id));
            Assert.DoesNotContain(task.Examples(TaskSplit.Harder, seed).Take(300), e => train.Contains(e.Id));
        }
        // Ids are hashes of the problem, so equal ids are equal problems: check the prompts too.
        var trainPrompts = task.Examples(TaskSplit.Train, seed: 1).Take(3000).Select(e => e.Prompt[0].Content).ToHashSet();
        Assert.DoesNotContain(task.Examples(TaskSplit.Test, 1).Take(500), e => trainPrompts.Contains(e.Prompt[0].Content));
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void Same_seed_same_examples_and_a_different_seed_differs(string name)
    {
        var task = TaskCatalog.Create(name);
        var a = task.Examples(TaskSplit.Train, 5).Take(50).ToList();
        var b = TaskCatalog.Create(name).Examples(TaskSplit.Train, 5).Take(50).ToList();
        var c = task.Examples(TaskSplit.Train, 6).Take(50).ToList();
        Assert.Equal(a, b, (x, y) => x.Id == y.Id && x.Solution == y.Solution && x.Answer == y.Answer);
        Assert.NotEqual(a.Select(e => e.Id), c.Select(e => e.Id));
        Assert.Equal(50, a.Select(e => e.Id).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(TaskNames))]
    public void The_harder_split_is_harder(string name)
    {
        var task = TaskCatalog.Create(name);
        int trainMax = task.Examples(TaskSplit.Train, 0).Take(500).Max(e => e.Difficulty);
        int harderMin = task.Examples(TaskSplit.Harder, 0).Take(200).Min(e => e.Difficulty);
        Assert.True(harderMin >= trainMax, $"{name}: harder split starts at difficulty {harderMin}, train reaches {trainMax}");
    }

    [Fact]
    public void Arithmetic_worked_solutions_show_each_carry_digit_by_digit()
    {
        var task = new ArithmeticTask(new ArithmeticOptions { Operations = "+", MinDigits = 2, MaxDigits = 4 });
        foreach (var example in task.Examples(TaskSplit.Train, 0).Take(200))
        {
            var operands = example.Prompt[0].Content["What is ".Length..^1].Split('+').Select(long.Parse).ToArray();
            int columns = Math.Max(operands[0].ToString().Length, operands[1].ToString().Length), carries = 0, carry = 0;
            for (long a = operands[0], b = operands[1], column = 0; column < columns; column++, a /= 10, b /= 10)
            {
                carry = (int)(a % 10 + b % 10 + carry) / 10;
                if (column < columns - 1) carries += carry; // the last column writes its whole sum
            }
            string reasoning = example.Solution![..example.Solution!.IndexOf("</think>")];
            Assert.Equal(columns, reasoning.Split('\n').Count(l => l.Contains(", write ")));
            Assert.Equal(carries, System.Text.RegularExpressions.Regex.Matches(reasoning, "carry 1").Count);
            Assert.EndsWith($"</think>\n{operands[0] + operands[1]}", example.Solution);
        }
    }

    [Fact]
    public void A_small_problem_space_ends_the_stream_instead_of_repeating()
    {
        var task = new ArithmeticTask(new ArithmeticOptions { Operations = "+", MinDigits = 1, MaxDigits = 1 });
        var all = task.Examples(TaskSplit.Train, 0).ToList();
        Assert.InRange(all.Count, 60, 100);   // 100 one-digit sums, ~10% on the test side
        Assert.Equal(all.Count, all.Select(e => e.Id).Distinct().Count());
    }

    [Theory]
    [InlineData("(3+5)*(7-4)", true)]
    [InlineData("(5+3)*(7-4)", true)]     // another expression, same numbers, same value
    [InlineData("(3+5)(7-4)", true)]      // juxtaposition multiplies
    [InlineData("(3+5)*(7-4)=24", true)]
    [InlineData("8*3", false)]            // 8 was not given
    [InlineData("(3+5)*3", false)]        // 3 used twice
    [InlineData("3*7+5-4", false)]        // uses all numbers, wrong value (25)
    [InlineData("24", false)]
    [InlineData("(3+5)*(7-4)+0", false)]  // 0 was not given
    [InlineData("(3+5)*(7-4)/(7-7)", false)]
    [InlineData("System.Exit(1)", false)]
    [InlineData("", false)]
    public void Countdown_checks_numbers_and_value_with_a_parser(string answer, bool expected)
    {
        var task = new CountdownTask();
        Assert.Equal(expected, task.IsCorrect($"<think>try</think>\n{answer}", "(3+5)*(7-4)"));
        Assert.Equal(expected, task.IsCorrect($"<think>try</think>\n<answer>{answer}</answer>", "(3+5)*(7-4)"));
    }

    [Fact]
    public void Countdown_allows_a_subset_of_the_numbers()
    {
        var task = new CountdownTask();
        // Puzzle: 2, 3, 4, 4, 6 -> 24; "4*6" uses two of the numbers.
        Assert.True(task.IsCorrect("<think>x</think>4*6", "(2+3-4)*6*4"));
        Assert.Equal("4*6", task.VoteKey("<think>x</think>4 * 6"));
    }

    [Fact]
    public void Bad_options_are_user_errors()
    {
        Assert.Throws<R1Error>(() => new ArithmeticTask(new ArithmeticOptions { Operations = "^" }));
        Assert.Throws<R1Error>(() => new ArithmeticTask(new ArithmeticOptions { MinDigits = 3, MaxDigits = 2 }));
        Assert.Throws<R1Error>(() => new CountdownTask(new CountdownOptions { MinNumbers = 1 }));
        Assert.Throws<R1Error>(() => TaskCatalog.Create("sudoku"));
    }
}

public sealed class SftDataTests : IDisposable
{
    readonly TempDir _dir = new("r1-sft-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Worked_solutions_are_written_as_chats_whose_assistant_turn_grades_correct()
    {
        var task = new LinearEquationTask();
        var examples = task.Examples(TaskSplit.Train, 0).Take(20).ToList();
        string path = Path.Combine(_dir, "sft.jsonl");
        Assert.Equal(20, SftData.WriteJsonl(path, examples));
        var lines = File.ReadAllLines(path).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        Assert.Equal(20, lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            var messages = lines[i]["messages"]!.AsArray();
            Assert.Equal(examples[i].Id, (string)lines[i]["id"]!);
            Assert.Equal("user", (string)messages[0]!["role"]!);
            Assert.Equal("assistant", (string)messages[^1]!["role"]!);
            Assert.True(task.IsCorrect((string)messages[^1]!["content"]!, (string)lines[i]["answer"]!));
        }
    }
}
