using System.Diagnostics;
using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Synthetic;

namespace R1Sharp.Tests.Cli;

public class TrainingCommandsTests : IDisposable
{
    readonly TempDir dir = new("r1-train-");

    public void Dispose() => dir.Dispose();

    string Runs => dir.File("runs");

    string NewModel(string arch = "llama")
    {
        string model = dir.File($"model-{arch}");
        Assert.Equal(0, CliApp.Run(["init", "--arch", arch, "--preset", "tiny", "--out", model]));
        return model;
    }

    string Corpus()
    {
        string corpus = dir.File("corpus.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 50).Select(i => new JsonObject { ["text"] = $"{i}+{i}={2 * i}" }.ToJsonString()));
        return corpus;
    }

    string SftData()
    {
        string data = dir.File("sft.jsonl");
        R1Sharp.Tasks.SftData.WriteJsonl(data, new ArithmeticTask().Examples(TaskSplit.Train, 1).Take(20));
        return data;
    }

    string WriteConfig(object config, string name = "train.json")
    {
        string path = dir.File(name);
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(config));
        return path;
    }

    JsonNode SavedConfig(string run) => JsonNode.Parse(File.ReadAllText(Path.Combine(Runs, run, "config.json")))!;

    JsonNode LastTrainerState(string run) => JsonNode.Parse(File.ReadAllText(Path.Combine(
        new RunStore(Runs).List().Single(r => r.Name == run).Path, "checkpoints", "step-000002", R1Sharp.Training.TrainerState.StateFile)))!;

    int MetricLines(string run) => File.ReadAllLines(Path.Combine(Runs, run, "metrics.jsonl")).Length;

    [Fact]
    public void Pretrain_writes_a_run_and_a_model_that_loads()
    {
        string model = NewModel();
        string config = WriteConfig(new { max_steps = 4, batch_size = 4, max_seq_length = 16, eval_steps = 0, save_steps = 2 });
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", config, "--runs-dir", Runs, "--name", "p", "--out", dir.File("trained")]));
        Assert.Equal(4, MetricLines("p"));
        Assert.Equal(0, CliApp.Run(["generate", "--model", dir.File("trained"), "--prompt", "1+1=", "--temperature", "0", "--max-tokens", "4"]));
        Assert.Contains(new RunStore(Runs).List(), r => r.Name == "p" && r.Status == RunStatus.Finished);
    }

    [Fact]
    public void Flags_beat_the_config_file_which_beats_the_built_in_defaults()
    {
        string model = NewModel();
        // pretrain: --max-steps over a file's max_steps; the file's batch size over the default; the default learning rate stays.
        string pretrain = WriteConfig(new { max_steps = 12, batch_size = 4, max_seq_length = 16, eval_steps = 0, save_steps = 0 });
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", pretrain, "--max-steps", "3", "--runs-dir", Runs, "--name", "p"]));
        Assert.Equal(3, MetricLines("p"));
        Assert.Equal((3, 4, 1e-3), ((int)SavedConfig("p")["max_steps"]!, (int)SavedConfig("p")["batch_size"]!, (double)SavedConfig("p")["learning_rate"]!));

        // sft: a file without learning_rate keeps SFT's default (not pretraining's); a flag beats both.
        string sft = WriteConfig(new { max_steps = 2, batch_size = 4, max_seq_length = 128, eval_steps = 0 }, "sft.json");
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", SftData(), "--config", sft, "--runs-dir", Runs, "--name", "s"]));
        Assert.Equal(3e-4, (double)SavedConfig("s")["learning_rate"]!);
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", SftData(), "--config", sft, "--learning-rate", "5e-4", "--max-steps", "1", "--runs-dir", Runs, "--name", "s-lr"]));
        Assert.Equal((5e-4, 1), ((double)SavedConfig("s-lr")["learning_rate"]!, MetricLines("s-lr")));

        // grpo: the same rule.
        string grpo = WriteConfig(new { max_steps = 3, num_generations = 2, prompts_per_step = 1, max_completion_length = 4 }, "grpo.json");
        Assert.Equal(0, CliApp.Run(["grpo", "--model", model, "--task", "arithmetic", "--config", grpo, "--max-steps", "1", "--eval-steps", "1",
            "--runs-dir", Runs, "--name", "g"]));
        Assert.Equal((1, 2), (MetricLines("g"), (int)SavedConfig("g")["num_generations"]!));
        // eval_steps: the evaluator's greedy accuracy on held-out prompts.
        Assert.InRange(JsonNode.Parse(File.ReadAllLines(Path.Combine(Runs, "g", "metrics.jsonl"))[0])![R1Sharp.Training.MetricNames.EvalAccuracy]!.GetValue<double>(), 0, 1);

        // Every run ends with its cost card, in run.json and report.md, counted by the kind of work it did.
        long Tokens(string run, string kind) => (long)RunCost(run)["work"]![kind + "_tokens"]!;
        Assert.True(Tokens("p", "training") > 0 && Tokens("s", "training") > 0);
        Assert.True(Tokens("g", "prefill") > 0 && Tokens("g", "decode") > 0 && Tokens("g", "training") > 0);
        Assert.All(new[] { "p", "s", "g" }, run =>
        {
            Assert.True((double)RunCost(run)["flops"]! > 0 && (double)RunCost(run)["dollars"]! > 0);
            Assert.Contains("## Cost", File.ReadAllText(Path.Combine(Runs, run, RunFolder.ReportFile)));
        });

        // A misspelt key names the file and the key.
        string bad = WriteConfig(new { max_step = 3 }, "bad.json");
        Assert.Equal(2, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", bad, "--runs-dir", Runs, "--name", "bad"]));
        Assert.False(Directory.Exists(Path.Combine(Runs, "bad")));
    }

    JsonNode RunCost(string run) => JsonNode.Parse(File.ReadAllText(Path.Combine(Runs, run, RunFolder.RunInfoFile)))!["cost"]!;

    /// <summary>--precision on pretrain, sft and grpo: saved in config.json, decided once, recorded in the checkpoint.</summary>
    [Fact]
    public void Precision_is_a_flag_of_every_training_command_and_the_checkpoint_records_the_choice()
    {
        string model = NewModel();
        string config = WriteConfig(new { max_steps = 2, batch_size = 4, max_seq_length = 16, eval_steps = 0, save_steps = 0 });
        string bf16OrFp32 = R1Sharp.Training.Autocast.IsAvailable ? "bf16" : "fp32";
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", config, "--precision", bf16OrFp32, "--runs-dir", Runs, "--name", "p"]));
        Assert.Equal(bf16OrFp32, SavedConfig("p")["precision"]!.GetValue<string>());
        var state = LastTrainerState("p");
        Assert.Equal(bf16OrFp32, state["precision"]!.GetValue<string>());
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", config, "--runs-dir", Runs, "--name", "p-auto"]));
        Assert.Equal("auto", SavedConfig("p-auto")["precision"]!.GetValue<string>());
        var chosen = LastTrainerState("p-auto");
        Assert.Contains(chosen["precision"]!.GetValue<string>(), new[] { "fp32", "bf16" });
        Assert.StartsWith(chosen["precision"]!.GetValue<string>(), chosen["precision_reason"]!.GetValue<string>());

        string sft = WriteConfig(new { max_steps = 1, batch_size = 4, max_seq_length = 128, eval_steps = 0 }, "sft.json");
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", SftData(), "--config", sft, "--precision", "fp32", "--runs-dir", Runs, "--name", "s"]));
        Assert.Equal("fp32", SavedConfig("s")["precision"]!.GetValue<string>());
        Assert.Equal(0, CliApp.Run(["grpo", "--model", model, "--task", "arithmetic", "--num-generations", "2", "--prompts-per-step", "1",
            "--max-completion-length", "4", "--max-steps", "1", "--precision", bf16OrFp32, "--runs-dir", Runs, "--name", "g"]));
        Assert.Equal(bf16OrFp32, SavedConfig("g")["precision"]!.GetValue<string>());

        Assert.Equal(2, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--precision", "fp16", "--runs-dir", Runs, "--name", "bad"]));
        Assert.False(Directory.Exists(Path.Combine(Runs, "bad")));
    }

    [Fact]
    public void Sft_learns_only_from_assistant_turns_and_a_failed_input_check_leaves_no_run_behind()
    {
        string model = NewModel("qwen2");
        string data = SftData();
        string config = WriteConfig(new { max_steps = 3, batch_size = 4, max_seq_length = 128, eval_steps = 0 });
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", data, "--config", config, "--runs-dir", Runs, "--name", "s"]));

        // No assistant turn to learn: refused before a run folder exists, so the same name works once the data is fixed.
        string broken = dir.File("broken.jsonl");
        File.WriteAllText(broken, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        Assert.Equal(2, CliApp.Run(["sft", "--model", model, "--data", broken, "--config", config, "--runs-dir", Runs, "--name", "s2"]));
        Assert.False(Directory.Exists(Path.Combine(Runs, "s2")));
        Assert.Equal(0, CliApp.Run(["sft", "--model", model, "--data", data, "--config", config, "--runs-dir", Runs, "--name", "s2"]));
    }

    [Fact]
    public void Grpo_accepts_trl_option_names_and_a_finished_run_is_not_resumed()
    {
        string model = NewModel();
        string[] args = ["grpo", "--model", model, "--task", "arithmetic", "--runs-dir", Runs, "--num-generations", "4", "--prompts-per-step", "2",
            "--max-completion-length", "8", "--learning-rate", "1e-4", "--max-steps", "2", "--loss-type", "dr_grpo", "--beta", "0.01",
            "--epsilon-high", "0.28", "--num-iterations", "2", "--scale-rewards", "batch", "--mask-truncated-completions", "true"];
        Assert.Equal(0, CliApp.Run([.. args, "--name", "g"]));
        var config = SavedConfig("g");
        Assert.Equal("dr_grpo", config["loss_type"]!.GetValue<string>());
        Assert.Equal(0.28, config["epsilon_high"]!.GetValue<double>());
        Assert.True(config["mask_truncated_completions"]!.GetValue<bool>());
        Assert.Equal(2, MetricLines("g"));
        Assert.Contains("\"kl\"", File.ReadAllText(Path.Combine(Runs, "g", "metrics.jsonl")));

        // Resuming a finished run says so (exit 2) and changes nothing: its final metrics, status and logs stay.
        string runJson = File.ReadAllText(Path.Combine(Runs, "g", "run.json"));
        Assert.Equal(2, CliApp.Run(["grpo", "--model", model, "--task", "arithmetic", "--runs-dir", Runs, "--resume", "g"]));
        Assert.Equal(runJson, File.ReadAllText(Path.Combine(Runs, "g", "run.json")));
        Assert.Equal(2, MetricLines("g"));

        // A bad value is refused before a run folder exists.
        Assert.Equal(2, CliApp.Run([.. args, "--name", "bad", "--loss-type", "ppo"]));
        Assert.False(Directory.Exists(Path.Combine(Runs, "bad")));
    }

    [Fact]
    public void Grpo_on_a_data_file_goes_through_its_prompts_in_epochs()
    {
        string model = NewModel();
        string data = dir.File("four.jsonl");
        File.WriteAllLines(data, Enumerable.Range(1, 4).Select(i => new JsonObject { ["prompt"] = $"{i}+{i}=?", ["answer"] = $"{2 * i}" }.ToJsonString()));
        // 4 prompts, 2 per step, 4 steps: two epochs.
        Assert.Equal(0, CliApp.Run(["grpo", "--model", model, "--data", data, "--runs-dir", Runs, "--name", "epochs", "--num-generations", "2",
            "--prompts-per-step", "2", "--max-completion-length", "4", "--max-steps", "4"]));
        Assert.Equal(4, MetricLines("epochs"));
        Assert.Equal(RunStatus.Finished, new RunStore(Runs).Find("epochs")!.Status);
    }

    [Fact]
    public void A_run_another_process_holds_cannot_be_resumed()
    {
        string model = NewModel();
        RunFolder.Create(Runs, "busy", "pretrain", new R1Sharp.Training.LmTrainingConfig { MaxSteps = 2, BatchSize = 4, MaxSeqLength = 16 }).Dispose();
        // flock(1) takes the same OS lock a running r1 holds on the run's folder.
        using var holder = Process.Start(new ProcessStartInfo("flock", ["--exclusive", Path.Combine(Runs, "busy", RunFolder.LockFile), "sleep", "60"])
            { RedirectStandardError = true })!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (CanLock(Path.Combine(Runs, "busy", RunFolder.LockFile)) && DateTime.UtcNow < deadline) Thread.Sleep(50);
            string runJson = File.ReadAllText(Path.Combine(Runs, "busy", "run.json"));
            Assert.Equal(2, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--runs-dir", Runs, "--resume", "busy"]));
            Assert.Equal(runJson, File.ReadAllText(Path.Combine(Runs, "busy", "run.json")));
            Assert.False(File.Exists(Path.Combine(Runs, "busy", RunFolder.MetricsFile)));
        }
        finally
        {
            holder.Kill(entireProcessTree: true); // flock and the sleep that holds its lock
            holder.WaitForExit();
        }
        // Once that process is gone, the lock is free.
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--runs-dir", Runs, "--resume", "busy"]));
        Assert.Equal(2, MetricLines("busy"));
    }

    static bool CanLock(string path)
    {
        try
        {
            using var _ = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    [Fact]
    public void A_damaged_run_index_does_not_stop_training()
    {
        string model = NewModel();
        string config = WriteConfig(new { max_steps = 1, batch_size = 4, max_seq_length = 16, eval_steps = 0 });
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", config, "--runs-dir", Runs, "--name", "first"]));
        File.WriteAllBytes(Path.Combine(Runs, RunStore.FileName), Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        Assert.Equal(0, CliApp.Run(["pretrain", "--model", model, "--data", Corpus(), "--config", config, "--runs-dir", Runs, "--name", "second"]));
        Assert.Equal(["first", "second"], new RunStore(Runs).List().Select(r => r.Name).Order());
        Assert.Single(Directory.GetFiles(Runs, RunStore.FileName + ".damaged-*"));
    }
}
