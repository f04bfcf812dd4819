using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tests.Cli;

public class TrainingCommandsTests
{
    static string NewModel(string arch = "llama")
    {
        string dir = Directory.CreateTempSubdirectory("r1-train-").FullName;
        Assert.Equal(0, CliApp.Run(["init", "--arch", arch, "--preset", "tiny", "--out", dir]));
        return dir;
    }

    static string WriteConfig(string dir, object config)
    {
        string path = Path.Combine(dir, "train.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(config));
        return path;
    }

    [Fact]
    public void Pretrain_writes_a_run_and_a_model_that_loads()
    {
        string model = NewModel();
        string runs = Path.Combine(model, "runs");
        string corpus = Path.Combine(model, "corpus.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 50).Select(i => new JsonObject { ["text"] = $"{i}+{i}={2 * i}" }.ToJsonString()));
        string config = WriteConfig(model, new { max_steps = 4, batch_size = 4, max_seq_length = 16, eval_steps = 0, save_steps = 2 });
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", corpus, "--config", config, "--runs-dir", runs, "--name", "p", "--out", Path.Combine(model, "trained")]));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(runs, "p", "metrics.jsonl")).Length);
        Assert.Equal(0, CliApp.Run(["generate", "--model", Path.Combine(model, "trained"), "--prompt", "1+1=", "--temperature", "0", "--max-tokens", "4"]));
        Assert.Contains(new RunStore(runs).List(), r => r.Name == "p" && r.Status == RunStatus.Finished);
    }

    [Fact]
    public void Sft_learns_only_from_assistant_turns_of_chat_data()
    {
        string model = NewModel("qwen2");
        string data = Path.Combine(model, "sft.jsonl");
        SftData.WriteJsonl(data, new ArithmeticTask().Examples(TaskSplit.Train, 1).Take(20));
        string config = WriteConfig(model, new { max_steps = 3, batch_size = 4, max_seq_length = 128, eval_steps = 0 });
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", data, "--config", config, "--runs-dir", Path.Combine(model, "runs"), "--name", "s"]));
        File.WriteAllText(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        Assert.Equal(2, CliApp.Run(["sft", "--model", model, "--data", data, "--config", config, "--runs-dir", Path.Combine(model, "runs"), "--name", "s2"]));
    }

    [Fact]
    public void Grpo_accepts_trl_option_names_and_resumes_a_killed_run()
    {
        string model = NewModel();
        string runs = Path.Combine(model, "runs");
        string[] args = ["grpo", "--model", model, "--task", "arithmetic", "--runs-dir", runs, "--num-generations", "4", "--prompts-per-step", "2",
            "--max-completion-length", "8", "--learning-rate", "1e-4", "--max-steps", "2", "--loss-type", "dr_grpo", "--beta", "0.01",
            "--epsilon-high", "0.28", "--num-iterations", "2", "--scale-rewards", "batch", "--mask-truncated-completions", "true"];
        Assert.Equal(0, CliApp.Run([.. args, "--name", "g"]));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "g", "config.json")))!;
        Assert.Equal("dr_grpo", config["loss_type"]!.GetValue<string>());
        Assert.Equal(0.28, config["epsilon_high"]!.GetValue<double>());
        Assert.Equal(2, File.ReadAllLines(Path.Combine(runs, "g", "metrics.jsonl")).Length);
        Assert.Contains("\"kl\"", File.ReadAllText(Path.Combine(runs, "g", "metrics.jsonl")));

        // Resuming a finished run continues from its last checkpoint and has nothing left to do.
        Assert.Equal(0, CliApp.Run(["grpo", "--model", model, "--task", "arithmetic", "--runs-dir", runs, "--resume", "g"]));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(runs, "g", "metrics.jsonl")).Length);
        Assert.Equal(2, CliApp.Run([.. args, "--name", "bad", "--loss-type", "ppo"]));
    }
}
