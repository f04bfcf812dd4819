using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Distillation;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;
using R1Sharp.Training;

namespace R1Sharp.Tests.Training;

/// <summary>The run lifecycle every command shares: options in layers, inputs checked first, stop = checkpoint.</summary>
public class TrainingRunTests : IDisposable
{
    readonly TempDir dir = new("r1-lifecycle-");

    public void Dispose() => dir.Dispose();

    sealed class Recorder(Action<int>? onStep = null) : ITrainingObserver
    {
        public List<string> Notices { get; } = [];
        public void StageStarted(string stage, int totalSteps, int firstStep = 0) { }
        public void Step(int step, IReadOnlyDictionary<string, double> metrics) => onStep?.Invoke(step);
        public void StageFinished(string stage, string summary) { }
        public void Notice(string message) => Notices.Add(message);
    }

    string Model()
    {
        string model = dir.File("model");
        if (!Directory.Exists(model)) Assert.Equal(0, CliApp.Run(["init", "--arch", "llama", "--preset", "tiny", "--out", model, "--seed", "5"]));
        return model;
    }

    string Corpus()
    {
        string corpus = dir.File("corpus.txt");
        File.WriteAllLines(corpus, Enumerable.Range(0, 40).Select(i => $"{i} plus {i} is {2 * i}"));
        return corpus;
    }

    static readonly LmTrainingConfig Small = new()
    {
        MaxSteps = 6, BatchSize = 4, MaxSeqLength = 16, WarmupSteps = 2, SaveSteps = 4, EvalSteps = 3, Seed = 3,
    };

    [Fact]
    public void A_cancelled_run_is_marked_failed_keeps_a_checkpoint_of_its_last_step_and_resumes_exactly()
    {
        string runs = dir.File("runs"), model = Model(), corpus = Corpus();
        Recipes.Pretrain(new RunTarget(runs, "straight"), new ConfigLayers<LmTrainingConfig>(Small), model, corpus, new Recorder());

        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Recipes.Pretrain(new RunTarget(runs, "stopped"), new ConfigLayers<LmTrainingConfig>(Small),
            model, corpus, new Recorder(step => { if (step == 3) cancel.Cancel(); }), cancel.Token));
        var store = new RunStore(runs);
        Assert.Equal(RunStatus.Failed, store.Find("stopped")!.Status);
        Assert.Equal(3, new RunCheckpoints(Path.Combine(runs, "stopped", RunFolder.CheckpointsDir)).Latest()!.Step);
        Assert.Equal(3 * 4 * 16, store.Find("stopped")!.Cost!.Work.TrainingTokens); // the stopped session's cost is kept

        var outcome = Recipes.Pretrain(new RunTarget(runs, Resume: "stopped"), new ConfigLayers<LmTrainingConfig>(Small), model, corpus, new Recorder());
        Assert.Equal(6, outcome.Steps);
        Assert.Equal(RunStatus.Finished, store.Find("stopped")!.Status);
        // Both sessions' work, which here is the unbroken run's (no step was done twice).
        Assert.Equal(store.Find("straight")!.Cost!.Work, store.Find("stopped")!.Cost!.Work);
        string[] exact = [MetricNames.Loss, MetricNames.LearningRate, MetricNames.GradNorm, MetricNames.TokensSeen, MetricNames.EvalLoss];
        var expected = MetricsRow.Read(Path.Combine(runs, "straight", RunFolder.MetricsFile));
        var actual = MetricsRow.Read(Path.Combine(runs, "stopped", RunFolder.MetricsFile));
        Assert.Equal(expected.Select(r => r.Step), actual.Select(r => r.Step));
        // The held-out loss every eval_steps (3) and at the end, on the same held-out tokens before and after the stop.
        Assert.Equal([3, 6], actual.Where(r => r.Values.ContainsKey(MetricNames.EvalLoss)).Select(r => r.Step));
        foreach (var (e, a) in expected.Zip(actual))
            foreach (var key in exact.Where(e.Values.ContainsKey)) Assert.Equal(e.Values[key], a.Values[key]);
        Assert.True(File.Exists(Path.Combine(outcome.ModelDir, "model.safetensors")));
    }

    [Fact]
    public void A_resumed_run_keeps_its_saved_options_under_the_flags_and_refuses_another_config_file()
    {
        string runs = dir.File("runs"), model = Model(), corpus = Corpus();
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => Recipes.Pretrain(new RunTarget(runs, "r"), new ConfigLayers<LmTrainingConfig>(Small),
            model, corpus, new Recorder(step => { if (step == 2) cancel.Cancel(); }), cancel.Token));
        // Resumed with the built-in defaults below it: the saved options win over them, the flag over the saved options.
        var outcome = Recipes.Pretrain(new RunTarget(runs, Resume: "r"), new ConfigLayers<LmTrainingConfig>(new LmTrainingConfig(), Flags: c => c with { MaxSteps = 4 }),
            model, corpus, new Recorder());
        Assert.Equal(4, outcome.Steps);
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "r", RunFolder.ConfigFile)))!;
        Assert.Equal((4, 16), ((int)saved["max_steps"]!, (int)saved["max_seq_length"]!));

        string file = dir.File("other.json");
        File.WriteAllText(file, "{}");
        Assert.Throws<R1Error>(() => Recipes.Pretrain(new RunTarget(runs, Resume: "r"), new ConfigLayers<LmTrainingConfig>(Small, file), model, corpus, new Recorder()));
    }

    [Fact]
    public void Config_layers_go_defaults_then_file_then_flags_and_nested_sections_merge_key_by_key()
    {
        string file = dir.File("distill.json");
        File.WriteAllText(file, """{"mode": "logit", "training": {"max_steps": 7, "batch_size": 2}}""");
        var config = new ConfigLayers<DistillConfig>(new DistillConfig(), file, c => c with { Training = c.Training with { MaxSteps = 3 } }).Resolve();
        Assert.Equal(DistillMode.Logit, config.Mode);                   // file over default
        Assert.Equal(3, config.Training.MaxSteps);                      // flag over file
        Assert.Equal(2, config.Training.BatchSize);                     // file
        Assert.Equal(LmTrainingConfig.Sft.LearningRate, config.Training.LearningRate); // default of the nested section survives

        File.WriteAllText(file, """{"training": {"learning_rat": 0.1}}""");
        var unknown = Assert.Throws<R1Error>(() => new ConfigLayers<DistillConfig>(new DistillConfig(), file).Resolve());
        Assert.Contains(file, unknown.Message);
        Assert.Contains("'training.learning_rat'", unknown.Message);
        Assert.Contains("did you mean 'training.learning_rate'", unknown.Message);
        Assert.DoesNotContain("R1Sharp.", unknown.Message);

        File.WriteAllText(file, """{"mode": "soft"}""");
        var badValue = Assert.Throws<R1Error>(() => new ConfigLayers<DistillConfig>(new DistillConfig(), file).Resolve());
        Assert.Contains("'mode'", badValue.Message);
        Assert.Contains("sequence, logit", badValue.Message);
    }

    [Fact]
    public void The_shared_training_options_keep_their_trl_keys_in_every_config()
    {
        string[] shared = ["learning_rate", "lr_scheduler_type", "warmup_steps", "min_lr_rate", "weight_decay", "adam_beta1", "adam_beta2",
            "adam_epsilon", "max_grad_norm", "gradient_accumulation_steps", "max_steps", "max_seconds", "seed", "logging_steps", "save_steps",
            "save_total_limit", "eval_steps", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_rslora", "gradient_checkpointing",
            "precision", "device"]; // not TRL's: one key for Hugging Face's bf16/fp16 switches, with auto
        var grpo = JsonNode.Parse(ConfigJson.Write(new GrpoConfig()))!.AsObject();
        var lm = JsonNode.Parse(ConfigJson.Write(new LmTrainingConfig()))!.AsObject();
        var distill = JsonNode.Parse(ConfigJson.Write(new DistillConfig()))!.AsObject();
        Assert.All(shared, key => Assert.True(grpo.ContainsKey(key) && lm.ContainsKey(key) && distill["training"]!.AsObject().ContainsKey(key), key));
        Assert.Equal(["batch_size", "max_seq_length", "eval_batches", "eval_share", "router_bias_update_speed"], lm.Select(kv => kv.Key).Except(shared));
        // Each keeps its own defaults.
        Assert.Equal((1e-6, "linear", 0.999), ((double)grpo["learning_rate"]!, (string)grpo["lr_scheduler_type"]!, (double)grpo["adam_beta2"]!));
        Assert.Equal((1e-3, "cosine", 0.95), ((double)lm["learning_rate"]!, (string)lm["lr_scheduler_type"]!, (double)lm["adam_beta2"]!));
        Assert.Equal((3e-4, 200), ((double)distill["training"]!["learning_rate"]!, (int)distill["training"]!["max_steps"]!));
    }

    sealed class ListTask(int count) : IVerifiableTask
    {
        readonly List<TaskExample> all = Enumerable.Range(0, count).Select(i => new TaskExample($"p{i}", [ChatMessage.User($"q{i}")], "a", 0)).ToList();
        public string Name => "list";
        public IEnumerable<TaskExample> Examples(TaskSplit split, int seed) => all;
        public bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) => false;
        public string? VoteKey(string completion, bool templateOpenedThink = false) => null;
    }

    sealed class GeneratedTask(int count) : IVerifiableTask
    {
        public string Name => "generated";
        public IEnumerable<TaskExample> Examples(TaskSplit split, int seed)
        {
            for (int i = 0; i < count; i++) yield return new TaskExample($"g{(i + seed) % count}", [ChatMessage.User("q")], "a", 0);
        }
        public bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) => false;
        public string? VoteKey(string completion, bool templateOpenedThink = false) => null;
    }

    static List<string> Draw(PromptStream stream, int count) => Enumerable.Range(0, count).Select(_ => stream.Next().Id).ToList();

    [Fact]
    public void Grpo_prompts_come_in_epochs_reshuffled_from_the_seed()
    {
        var drawn = Draw(new PromptStream(new ListTask(5), seed: 7), 15);
        var epochs = drawn.Chunk(5).ToList();
        Assert.All(epochs, epoch => Assert.Equal(Enumerable.Range(0, 5).Select(i => $"p{i}").Order(), epoch.Order()));
        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.Equal(drawn, Draw(new PromptStream(new ListTask(5), seed: 7), 15));
        Assert.NotEqual(drawn, Draw(new PromptStream(new ListTask(5), seed: 8), 15));
        // A resumed stream draws on where the first stopped.
        var resumed = new PromptStream(new ListTask(5), seed: 7, position: 8);
        Assert.Equal(drawn.Skip(8), Draw(resumed, 7));

        // A generator is read as it comes; after it runs out its problems come again, shuffled.
        var generated = new PromptStream(new GeneratedTask(4), seed: 1);
        var first = Draw(generated, 4);
        Assert.Equal(new GeneratedTask(4).Examples(TaskSplit.Train, 1).Select(e => e.Id), first);
        Assert.Equal(first.Order(), Draw(generated, 4).Order());

        Assert.Throws<R1Error>(() => new PromptStream(new ListTask(0), seed: 1));
    }
}
