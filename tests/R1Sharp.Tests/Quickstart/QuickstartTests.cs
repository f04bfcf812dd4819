using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Quickstart;
using R1Sharp.Tasks;

namespace R1Sharp.Tests.Quickstart;

public class QuickstartTests
{
    [Fact]
    public void Worked_columns_give_the_sum_and_a_slip_carries_into_the_answer()
    {
        var random = new Random(4);
        for (int i = 0; i < 500; i++)
        {
            long a = random.NextInt64(0, 100_000), b = random.NextInt64(0, 100_000);
            var (work, answer) = AdditionScratchpad.Solve(a, b);
            Assert.Equal((a + b).ToString(), answer);
            Assert.EndsWith(":" + answer, work);
            var (_, slipped) = AdditionScratchpad.Solve(a, b, slipColumn: 0, slip: 1);
            Assert.NotEqual((a + b).ToString(), slipped);
        }
        Assert.Equal(("6+9=15:5 0+1+1=2:25 7+0=7:725 8+0=8:8725", "8725"), AdditionScratchpad.Solve(8706, 19));
        // A forgotten carry: the column that should take it does not, and the sum goes on from there.
        Assert.Equal(("6+9=15:5 0+1=1:15 7+0=7:715 8+0=8:8715", "8715"), AdditionScratchpad.Solve(8706, 19, forgetsCarryInto: _ => true));
        Assert.Equal("900", AdditionScratchpad.Solve(999, 1, forgetsCarryInto: column => column == 2).Answer);
        Assert.Equal("990", AdditionScratchpad.Solve(999, 1, forgetsCarryInto: column => column == 1).Answer);
    }

    [Fact]
    public void Direct_answers_forget_carries_at_the_configured_rate()
    {
        static (int Right, int WithCarry, int RightWithCarry, int Direct) Count(QuickstartConfig config)
        {
            int right = 0, withCarry = 0, rightWithCarry = 0, direct = 0;
            foreach (var document in QuickstartCorpus.Documents(config).Where(d => d.Contains("<think>\n</think>")))
            {
                var question = document[document.IndexOf("What is", StringComparison.Ordinal)..];
                var (a, b) = AdditionScratchpad.Parse(question[..(question.IndexOf('?') + 1)]);
                bool isRight = document.Contains($"</think>\n{a + b}<");
                // A carry into an inner column, i.e. one a direct answer can forget.
                bool carries = AdditionScratchpad.Solve(a, b, forgetsCarryInto: _ => true).Answer != (a + b).ToString();
                direct++;
                if (isRight) right++;
                if (carries) { withCarry++; if (isRight) rightWithCarry++; }
            }
            return (right, withCarry, rightWithCarry, direct);
        }
        var config = QuickstartConfig.Tiny with { PretrainDocuments = 3000 };
        var never = Count(config with { DirectForgetCarryShare = 0 });
        Assert.Equal(never.Direct, never.Right);
        var always = Count(config with { DirectForgetCarryShare = 1 });
        Assert.True(always.WithCarry > 300);
        Assert.Equal(0, always.RightWithCarry);
        Assert.Equal(always.Direct - always.WithCarry, always.Right);
        // The default: most carries forgotten, so most direct answers to problems with a carry are wrong.
        var usual = Count(config);
        Assert.InRange(usual.RightWithCarry / (double)usual.WithCarry, 0.05, 0.35);
    }

    [Fact]
    public void The_corpus_mixes_direct_and_worked_answers_and_the_task_grades_them()
    {
        var config = QuickstartConfig.Tiny with { PretrainDocuments = 300 };
        var documents = QuickstartCorpus.Documents(config);
        Assert.Equal(300, documents.Count);
        double direct = documents.Count(d => d.Contains("<think>\n</think>")) / 300.0;
        double expected = (1 - config.HarderShareInPretraining) * config.DirectShare + config.HarderShareInPretraining * config.HarderDirectShare!.Value;
        Assert.InRange(direct, expected - 0.1, expected + 0.1);
        var task = QuickstartCorpus.Task(config);
        var example = task.Examples(TaskSplit.Test, 1).First();
        string question = example.Prompt[^1].Content;
        Assert.True(task.IsCorrect(QuickstartCorpus.Completion(question, direct: false), example.Answer, templateOpenedThink: true));
        Assert.True(task.IsCorrect(QuickstartCorpus.Completion(question, direct: true), example.Answer, templateOpenedThink: true));
        Assert.False(task.IsCorrect(QuickstartCorpus.Completion(question, false, slipColumn: 0, slip: 1), example.Answer, templateOpenedThink: true));
        // Held-out problems never appear in the pretraining text.
        foreach (var heldout in task.Examples(TaskSplit.Test, 1).Take(50))
            Assert.DoesNotContain(documents, d => d.Contains(heldout.Prompt[^1].Content));
    }

    [Fact]
    public void Harder_direct_share_zero_shows_every_longer_problem_worked()
    {
        var config = QuickstartConfig.Tiny with { PretrainDocuments = 400, HarderShareInPretraining = 0.5, HarderDirectShare = 0 };
        int longer = 0, shorter = 0, shorterDirect = 0;
        foreach (var document in QuickstartCorpus.Documents(config))
        {
            var question = document[(document.IndexOf("What is", StringComparison.Ordinal))..];
            var (a, b) = AdditionScratchpad.Parse(question[..(question.IndexOf('?') + 1)]);
            bool direct = document.Contains("<think>\n</think>");
            if (Math.Max(a, b).ToString().Length > config.MaxDigits) { longer++; Assert.False(direct, document); }
            else { shorter++; if (direct) shorterDirect++; }
        }
        Assert.InRange(longer, 150, 250);
        Assert.InRange(shorterDirect / (double)shorter, config.DirectShare - 0.1, config.DirectShare + 0.1);
    }

    [Fact]
    public void The_quickstart_runs_grpo_with_a_kl_to_the_base_when_rl_beta_is_set()
    {
        string runs = Directory.CreateTempSubdirectory("r1-qs-beta-").FullName;
        string configPath = Path.Combine(runs, "beta.json");
        File.WriteAllText(configPath, System.Text.Json.JsonSerializer.Serialize(QuickstartConfig.Tiny with { RlBeta = 0.04 }));
        Assert.Equal(0, CliApp.Run(["quickstart", "--config", configPath, "--runs-dir", runs, "--name", "qs"]));
        var metrics = File.ReadAllLines(Path.Combine(runs, "qs-grpo", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Contains(metrics, m => m["kl"] is not null);
    }

    [Fact]
    public void The_tiny_quickstart_runs_end_to_end_and_writes_the_report()
    {
        string runs = Directory.CreateTempSubdirectory("r1-qs-").FullName;
        Assert.Equal(0, CliApp.Run(["quickstart", "--tiny", "--control", "--runs-dir", runs, "--name", "qs"]));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "qs", "report.json")))!;
        foreach (var model in new[] { "base", "rl", "control" })
            foreach (var split in new[] { "heldout", "harder" })
                foreach (var metric in new[] { "pass1", "cons_at_k", "mean_response_tokens" })
                    Assert.NotNull(report[model]![split]![metric]);
        Assert.True(File.Exists(Path.Combine(runs, "qs", "report.md")));
        Assert.True(File.Exists(Path.Combine(runs, "qs", "models", "rl", "model.safetensors")));
        Assert.True(Directory.GetFiles(Path.Combine(runs, "qs", "plots"), "*.png").Length >= 3);
        Assert.True(File.Exists(Path.Combine(runs, "qs-grpo", "metrics.jsonl")));

        // r1 eval --task quickstart takes the digit counts from the model's run: harder answers have more digits.
        string evalDir = Path.Combine(runs, "eval-harder");
        Assert.Equal(0, CliApp.Run(["eval", "--model", Path.Combine(runs, "qs", "models", "rl"), "--task", "quickstart", "--split", "harder",
            "--samples", "2", "--prompts", "3", "--max-tokens", "8", "--out", evalDir]));
        var golds = File.ReadAllLines(Path.Combine(evalDir, "samples.jsonl")).Select(l => JsonNode.Parse(l)!["gold"]!.GetValue<string>()).ToList();
        Assert.Equal(3 * 3, golds.Count); // 2 samples + the greedy one per prompt
        Assert.All(golds, g => Assert.True(g.Length > QuickstartConfig.Tiny.MaxDigits, $"harder answer {g}"));
    }
}
