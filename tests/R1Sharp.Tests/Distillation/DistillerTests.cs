using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Distillation;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tokenizers;
using R1Sharp.Training;

namespace R1Sharp.Tests.Distillation;

public class DistillerTests
{
    /// <summary>The teacher's sampled traces: training ones from prompts p0–p15, held-out ones from p16–p19.</summary>
    static (string Train, string HeldOut) Traces(string folder)
    {
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        var options = new RejectionSamplingOptions { Samples = 4, Prompts = 100, Temperature = 1, TopP = 1, MaxTokens = 16, Keep = TraceKeep.All, Seed = 3 };
        string train = Path.Combine(folder, "train.jsonl"), heldOut = Path.Combine(folder, "held-out.jsonl");
        DistillationTrace.WriteJsonl(train, RejectionSampler.Run(teacher, DatasetTask.Load(TinyTeacher.PromptsFile(folder, 0, 16)), TaskSplit.Train, options).Traces);
        DistillationTrace.WriteJsonl(heldOut, RejectionSampler.Run(teacher, DatasetTask.Load(TinyTeacher.PromptsFile(folder, 16, 20)), TaskSplit.Train, options).Traces);
        return (train, heldOut);
    }

    static double HeldOutLoss(ModelBundle student, string heldOutPath)
    {
        var examples = SftDataset.Load(heldOutPath, student);
        using var batch = SftExample.Collate(examples, 64, student.Tokenizer.PadId ?? 0, student.Model.Device);
        return new LanguageModelTrainer(student.Model, new LmTrainingConfig(), new SftBatchSource(examples, 1, 64, 0, 1)).EvalLoss([batch]);
    }

    static DistillConfig Config(DistillMode mode) => new()
    {
        Mode = mode, TopK = 8,
        Training = new LmTrainingConfig { LearningRate = 3e-3, WarmupSteps = 3, MaxSteps = 30, BatchSize = 8, MaxSeqLength = 64, EvalSteps = 0, EvalShare = 0, SaveSteps = 0, Seed = 2 },
    };

    [Theory]
    [InlineData(DistillMode.Sequence)]
    [InlineData(DistillMode.Logit)]
    public void Distilling_lowers_the_students_loss_on_held_out_teacher_traces(DistillMode mode)
    {
        using var folder = new TempDir("r1-distill-");
        var (train, heldOut) = Traces(folder);
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        using var student = StudentShapes.Build(teacher, "half", seed: 4);
        double before = HeldOutLoss(student, heldOut);
        var run = RunFolder.Create(folder, "distill", "distill", Config(mode));
        new Distiller(teacher, student, Config(mode), train).Run(run);
        double after = HeldOutLoss(student, heldOut);
        Assert.True(after < before * 0.75, $"{mode}: held-out trace loss went from {before:F3} to {after:F3}");
        var losses = run.ReadMetrics().Select(m => m.Values["loss"]).ToList();
        Assert.Equal(30, losses.Count);
        Assert.True(losses[^1] < losses[0], $"training loss went from {losses[0]:F3} to {losses[^1]:F3}");
        if (mode == DistillMode.Logit) Assert.All(losses, l => Assert.True(l >= -1e-6, "a KL is never negative"));
    }

    [Fact]
    public void Presets_make_smaller_students_of_the_teachers_family_with_its_tokenizer()
    {
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        var t = teacher.Model.Config;
        var half = StudentShapes.Create(t, "half");
        Assert.Equal((t.NumHiddenLayers / 2, t.HiddenSize / 2, t.IntermediateSize / 2), (half.NumHiddenLayers, half.HiddenSize, half.IntermediateSize));
        Assert.Equal((t.Family, t.VocabSize, t.EosTokenIds[0]), (half.Family, half.VocabSize, half.EosTokenIds[0]));
        Assert.True(ModelStats.Of(StudentShapes.Create(t, "quarter")).TotalParameters < ModelStats.Of(half).TotalParameters);
        Assert.True(ModelStats.Of(half).TotalParameters < ModelStats.Of(t).TotalParameters);
        var deepseek = ModelPresets.Create(ModelFamily.DeepseekV3, "small", 300);
        Assert.True(ModelStats.Of(StudentShapes.Create(deepseek, "half")).TotalParameters < ModelStats.Of(deepseek).TotalParameters);
        Assert.Throws<R1Error>(() => StudentShapes.Create(t, "giant"));
        using var student = StudentShapes.Build(teacher, "half", seed: 1);
        Distiller.RequireSharedTokenizer(teacher, student);
    }

    [Fact]
    public void Logit_distillation_refuses_a_student_with_another_tokenizer()
    {
        using var teacher = ModelBundle.Load(TinyTeacher.Directory);
        var definition = BpeTrainer.Train(Enumerable.Range(0, 200).Select(i => $"p{i} add {i}+{i}={2 * i}"), 290);
        var tokenizer = new HfTokenizer(definition, TokenizerConfig.ForOwnTokenizers);
        using var student = teacher with { Model = new CausalLanguageModel(StudentShapes.Create(teacher.Model.Config, "half")), Tokenizer = tokenizer, Directory = "other" };
        var error = Assert.Throws<R1Error>(() => Distiller.RequireSharedTokenizer(teacher, student));
        Assert.Contains("share a tokenizer", error.Message);
        Assert.Contains("--mode sequence", error.Message);
    }

    [Fact]
    public void R1_distill_trains_a_preset_student_in_a_run_that_resumes()
    {
        using var folder = new TempDir("r1-distill-cli-");
        var (train, _) = Traces(folder);
        string runs = Path.Combine(folder, "runs"), config = Path.Combine(folder, "distill.json");
        File.WriteAllText(config, """{"mode": "logit", "top_k": 4, "training": {"max_steps": 4, "batch_size": 4, "max_seq_length": 32, "save_steps": 2, "eval_steps": 2}}""");
        string[] args = ["distill", "--teacher", TinyTeacher.Directory, "--student-preset", "half", "--data", train, "--config", config, "--runs-dir", runs];
        Assert.Equal(0, CliApp.Run([.. args, "--name", "d"]));
        var saved = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "d", "config.json")))!;
        Assert.Equal("logit", saved["mode"]!.GetValue<string>());
        Assert.Equal(3e-4, saved["training"]!["learning_rate"]!.GetValue<double>()); // SFT's default under the file's training section
        Assert.Equal(4, File.ReadAllLines(Path.Combine(runs, "d", "metrics.jsonl")).Length);
        // Its cost card counts the student's training and the teacher's forward passes (logit mode).
        var work = JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "d", "run.json")))!["cost"]!["work"]!;
        Assert.True((long)work["training_tokens"]! > 0 && (long)work["forward_tokens"]! >= (long)work["training_tokens"]!);
        Assert.Contains("## Cost", File.ReadAllText(Path.Combine(runs, "d", "report.md")));
        Assert.Equal(0, CliApp.Run([.. args, "--name", "d-flag", "--max-steps", "1", "--precision", "fp32"])); // the flags over the file
        Assert.Single(File.ReadAllLines(Path.Combine(runs, "d-flag", "metrics.jsonl")));
        Assert.Equal("fp32", JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "d-flag", "config.json")))!["training"]!["precision"]!.GetValue<string>());
        using (var student = ModelBundle.Load(Path.Combine(runs, "d", "model")))
            Assert.Equal(StudentShapes.Create(ModelConfig.Load(Path.Combine(TinyTeacher.Directory, "config.json")), "half").HiddenSize, student.Model.Config.HiddenSize);

        // A finished run has nothing to resume: it says so and changes nothing.
        string runJson = File.ReadAllText(Path.Combine(runs, "d", "run.json"));
        Assert.Equal(2, CliApp.Run(["distill", "--teacher", TinyTeacher.Directory, "--student-preset", "half", "--data", train, "--runs-dir", runs, "--resume", "d"]));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(runs, "d", "metrics.jsonl")).Length);
        Assert.Equal(runJson, File.ReadAllText(Path.Combine(runs, "d", "run.json")));

        Assert.Equal(2, CliApp.Run([.. args, "--name", "bad-mode", "--mode", "soft"]));
        Assert.Equal(2, CliApp.Run(["distill", "--teacher", TinyTeacher.Directory, "--data", train, "--runs-dir", runs]));
        Assert.Equal(2, CliApp.Run([.. args, "--name", "bad-shape", "--student-preset", "giant"]));
    }
}
