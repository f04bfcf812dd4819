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
    public void Tiny_with_a_config_file_keeps_tiny_under_the_files_keys_and_runs_grpo_with_a_kl_to_the_base()
    {
        using var runs = new TempDir("r1-qs-beta-");
        string configPath = runs.File("beta.json");
        File.WriteAllText(configPath, """{"rl_beta": 0.04, "rl_steps": 1}""");
        Assert.Equal(0, CliApp.Run(["quickstart", "--tiny", "--config", configPath, "--runs-dir", runs, "--name", "qs"]));
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "qs", "config.json")))!;
        Assert.Equal((QuickstartConfig.Tiny.PretrainDocuments, 0.04, 1), ((int)saved["pretrain_documents"]!, (double)saved["rl_beta"]!, (int)saved["rl_steps"]!));
        var metrics = File.ReadAllLines(Path.Combine(runs, "qs-grpo", "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Single(metrics);
        Assert.Contains(metrics, m => m["kl"] is not null);

        // A misspelt key is an error, as in every other config, before anything runs.
        File.WriteAllText(configPath, """{"rl_stepz": 1}""");
        Assert.Equal(2, CliApp.Run(["quickstart", "--tiny", "--config", configPath, "--runs-dir", runs, "--name", "typo"]));
        Assert.False(Directory.Exists(Path.Combine(runs, "typo")));
    }

    [Fact]
    public void The_tiny_quickstart_runs_end_to_end_and_writes_the_report()
    {
        using var dir = new TempDir("r1-qs-");
        string runs = dir;
        Assert.Equal(0, CliApp.Run(["quickstart", "--tiny", "--control", "--runs-dir", runs, "--name", "qs", "--price-per-hour", "0.5"]));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "qs", "report.json")))!;

        // The cost card of the whole pipeline, at the flag's price, and of each stage; the stages' FLOPs add up to it.
        var cost = report["cost"]!;
        foreach (var field in new[] { "flops", "wall_seconds", "cpu_core_seconds", "energy_wh", "dollars", "h100_seconds", "h100_dollars" })
            Assert.True((double)cost[field]! > 0, field);
        foreach (var field in new[] { "training_tokens", "forward_tokens", "prefill_tokens", "decode_tokens" })
            Assert.True((long)cost["work"]![field]! > 0, field);
        Assert.Equal((0.5, "cpu"), ((double)cost["rates"]!["price_per_hour"]!, (string)cost["device"]!));
        Assert.Contains("6·N", (string)cost["formula"]!);
        var stages = cost["stages"]!.AsObject();
        Assert.Equal(["tokenizer", "pretrain", "eval base", "grpo", "eval rl", "control", "eval control"], stages.Select(s => s.Key));
        Assert.Equal((double)cost["flops"]!, stages.Sum(s => (double)s.Value!["flops"]!), 6);
        Assert.Equal((double)cost["flops"]!, (double)JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "qs", "run.json")))!["cost"]!["flops"]!);
        Assert.Contains("## Cost", File.ReadAllText(Path.Combine(runs, "qs", "report.md")));
        // Each stage's run has its own card, at the pipeline's rates, and r1 runs lists them all with their cost.
        var listed = new R1Sharp.Runs.RunStore(runs).List();
        Assert.All(listed, r => Assert.Equal(0.5, r.Cost!.Rates.PricePerHour));
        Assert.Equal(stages["pretrain"]!["flops"]!.GetValue<double>(), listed.Single(r => r.Name == "qs-pretrain").Cost!.Flops, 6);
        var (console, output) = R1Sharp.Tests.Cli.TrainingViewTests.Console(terminal: false);
        R1Sharp.Cli.Commands.RunsCommand.Render(console, listed, runs);
        Assert.Contains(listed.Single(r => r.Name == "qs").Cost!.Short.Split(',')[0], output.ToString());
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
