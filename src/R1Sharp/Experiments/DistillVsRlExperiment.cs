using System.Diagnostics;
using R1Sharp.Checkpoints;
using R1Sharp.Distillation;
using R1Sharp.Model;
using R1Sharp.Quickstart;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Training;
using TorchSharp;

namespace R1Sharp.Experiments;

/// <summary>
/// `r1 experiment distill-vs-rl`: DeepSeek-R1's Table 6 on a CPU. From the quickstart's RL teacher, a smaller student of
/// the same kind (pretrained on the same corpus for the same steps) gets the same wall-clock budget twice: once for
/// GRPO on its own samples, once for rejection-sampling the teacher and SFT on the accepted traces. All models are
/// evaluated by the quickstart's protocol on the held-out and harder splits.
/// </summary>
public sealed class DistillVsRlExperiment(DistillVsRlConfig config, string runsRoot, ITrainingObserver observer)
{
    public const string Teacher = "teacher (quickstart RL)";
    public const string StudentBase = "student base";
    public const string StudentRl = "student + GRPO";
    public const string StudentDistilled = "student + distillation (SFT)";
    public const string StudentLogit = "student + distillation (logit KL)";

    /// <param name="teacherRun">A finished `r1 quickstart` run folder; null runs the quickstart first (as &lt;name&gt;-teacher).</param>
    /// <param name="teacherConfig">Settings of that quickstart run when it has to be made (default: the quickstart's defaults).</param>
    /// <param name="cost">The rates of the cost cards (null: the defaults).</param>
    public (DistillVsRlReport Report, string Folder) Run(string? teacherRun, string? name = null, QuickstartConfig? teacherConfig = null,
        CancellationToken cancellation = default, CostRates? cost = null)
    {
        config.Validate();
        var total = Stopwatch.StartNew();
        torch.set_num_threads(Environment.ProcessorCount);
        return TrainingRun.Pipeline("experiment", new RunTarget(runsRoot, name, Cost: cost), config, observer, (run, stages) =>
        {
            teacherRun ??= stages.Time("teacher (quickstart)", () =>
                new QuickstartPipeline(teacherConfig ?? new QuickstartConfig(), runsRoot, observer).Run(false, run.Name + "-teacher", cancellation).Folder);
            var (qs, teacherReport) = ReadTeacherRun(teacherRun);
            string teacherDir = Path.Combine(teacherRun, "models", "rl");
            var task = QuickstartCorpus.Task(qs);

            using var teacher = ModelBundle.Load(teacherDir);
            var studentQs = StudentConfig(qs, teacher.Model.Config);
            var student = new QuickstartPipeline(studentQs, runsRoot, observer);
            string models = Path.Combine(run.Path, "models");
            string baseDir = Path.Combine(models, "student-base");
            var pretrained = stages.Time("student pretrain", () => student.Pretrain(teacher.Tokenizer, student.Corpus(teacher.Tokenizer), run.Name + "-student", baseDir, cancellation));
            double baseSeconds = pretrained.TrainSeconds;
            var baseScores = stages.Time("eval student base", () => student.Evaluate(baseDir, task, baseSeconds));

            string rlDir = Path.Combine(models, "student-grpo");
            var rlPipeline = new QuickstartPipeline(studentQs with { RlSteps = int.MaxValue, MaxStageSeconds = config.BudgetSeconds }, runsRoot, observer);
            var rl = stages.Time("student grpo", () => rlPipeline.Grpo(task, baseDir, rlDir, run.Name + "-student", cancellation));
            var rlScores = stages.Time("eval student grpo", () => student.Evaluate(rlDir, task, rl.TrainSeconds));

            string tracesPath = Path.Combine(run.Path, "traces.jsonl");
            var sampling = stages.Time("sample teacher", () => Sample(teacher, task, qs, tracesPath));
            double trainBudget = config.BudgetSeconds - sampling.Seconds;
            if (trainBudget <= 0)
                throw new R1Error($"sampling the teacher took {sampling.Seconds:F0} s, the whole budget of {config.BudgetSeconds} s; lower sample_prompts");

            var rows = new List<ExperimentRow>
            {
                Row(StudentBase, $"the teacher's architecture scaled down ({config.StudentShape}: {studentQs.Layers} layers, width {studentQs.HiddenSize}), " +
                    $"pretrained on the quickstart corpus with the teacher's settings ({qs.PretrainSteps} steps, or its {qs.MaxStageSeconds} s guard)",
                    baseDir, baseScores, baseSeconds, baseSeconds, pretrained.Steps),
                Row(StudentRl, $"student base + GRPO with the quickstart's RL settings for {config.BudgetSeconds} s", rlDir, rlScores,
                    rl.TrainSeconds, baseSeconds + rl.TrainSeconds, rl.Steps),
            };
            foreach (var (mode, label, suffix) in DistillModes())
            {
                string dir = Path.Combine(models, "student-" + suffix);
                var clock = Stopwatch.StartNew();
                var distilled = stages.Time($"student {suffix}", () => Distill(teacher, baseDir, dir, tracesPath, mode, trainBudget, run.Name + "-" + suffix, qs.Seed, cancellation));
                double seconds = sampling.Seconds + clock.Elapsed.TotalSeconds;
                var scores = stages.Time($"eval student {suffix}", () => student.Evaluate(dir, task, seconds));
                string how = mode == DistillMode.Sequence ? "SFT on them" : $"KL to the teacher's top-{config.TopK} next-token distribution on them";
                rows.Add(Row(label, $"student base + {sampling.TracesWritten} accepted teacher traces ({sampling.Seconds:F0} s of sampling) and " +
                             $"{how} for the rest of the {config.BudgetSeconds} s", dir, scores, seconds, baseSeconds + seconds, distilled.Steps));
            }
            rows.Add(Row(Teacher, $"the quickstart's model ({qs.Layers} layers, width {qs.HiddenSize}): pretrained, then GRPO; its stage is the GRPO",
                teacherDir, teacherReport.Rl, teacherReport.Rl.TrainSeconds, teacherReport.Base.TrainSeconds + teacherReport.Rl.TrainSeconds,
                TeacherSteps(teacherRun)));

            var report = new DistillVsRlReport
            {
                Rows = rows, BudgetSeconds = config.BudgetSeconds, SamplingSeconds = sampling.Seconds,
                SamplingAcceptanceRate = sampling.AcceptanceRate, Traces = sampling.TracesWritten,
                TeacherRun = Path.GetFullPath(teacherRun), SamplesPerPrompt = qs.EvalSamples, EvalPrompts = qs.EvalPrompts,
                Temperature = qs.EvalTemperature, TopP = qs.EvalTopP, TotalSeconds = total.Elapsed.TotalSeconds, StageSeconds = stages.Seconds,
                Machine = TrainingRun.Machine, Config = config, QuickstartConfig = qs, Cost = stages.Card(),
            };
            AtomicFile.WriteAllText(Path.Combine(run.Path, "experiment.json"), report.ToJson() + "\n");
            AtomicFile.WriteAllText(Path.Combine(run.Path, "experiment.md"), report.ToMarkdown());
            var final = new Dictionary<string, double>
            {
                ["student_grpo_heldout_pass1"] = rlScores.Heldout.Pass1, ["student_distilled_heldout_pass1"] = rows.First(r => r.Model == StudentDistilled).Heldout.Pass1,
                ["student_base_heldout_pass1"] = baseScores.Heldout.Pass1, ["teacher_heldout_pass1"] = teacherReport.Rl.Heldout.Pass1,
            };
            return ((report, run.Path), final, report.ToMarkdown());
        });
    }

    IEnumerable<(DistillMode Mode, string Label, string Suffix)> DistillModes()
    {
        yield return (DistillMode.Sequence, StudentDistilled, "distill");
        if (config.LogitRow) yield return (DistillMode.Logit, StudentLogit, "distill-logit");
    }

    static (QuickstartConfig, QuickstartReport) ReadTeacherRun(string folder)
    {
        string report = Path.Combine(folder, "report.json"), model = Path.Combine(folder, "models", "rl");
        if (!File.Exists(report) || !Directory.Exists(model))
            throw new R1Error($"{folder} is not a finished quickstart run (expected report.json and models/rl)");
        var loaded = QuickstartReport.Load(report);
        return (loaded.Config, loaded);
    }

    /// <summary>The quickstart's settings with the student's shape: same corpus, steps and RL recipe, a smaller model.</summary>
    QuickstartConfig StudentConfig(QuickstartConfig qs, ModelConfig teacher)
    {
        var shape = StudentShapes.Create(teacher, config.StudentShape);
        if (shape.Family != ModelFamily.Llama || shape.NumKeyValueHeads != shape.NumAttentionHeads || shape.HeadDim is not null)
            throw new R1Error($"student shape '{config.StudentShape}' is not a quickstart shape (llama, one key/value head per head); use half or quarter");
        return qs with { HiddenSize = shape.HiddenSize, Layers = shape.NumHiddenLayers, Heads = shape.NumAttentionHeads, IntermediateSize = shape.IntermediateSize };
    }

    RejectionSamplingSummary Sample(ModelBundle teacher, IVerifiableTask task, QuickstartConfig qs, string tracesPath)
    {
        observer.StageStarted("sample teacher", 0);
        var result = RejectionSampler.Run(teacher, task, TaskSplit.Train, new RejectionSamplingOptions
        {
            Prompts = config.SamplePrompts, Samples = config.SamplesPerPrompt, Temperature = config.SampleTemperature,
            TopP = config.SampleTopP, MaxTokens = qs.MaxCompletionLength, Keep = config.Keep, Shortest = config.Shortest, Seed = qs.Seed, BatchPrompts = 128,
        });
        DistillationTrace.WriteJsonl(tracesPath, result.Traces);
        result.Summary.Save(RejectionSamplingSummary.PathFor(tracesPath));
        observer.StageFinished("sample teacher", $"{result.Summary.AcceptanceRate:P1} of {result.Summary.Samples} samples accepted, " +
                                                 $"{result.Traces.Count} traces in {result.Summary.Seconds:F0} s");
        if (result.Traces.Count == 0) throw new R1Error("the teacher produced no accepted trace; nothing to distil");
        return result.Summary;
    }

    TrainingOutcome Distill(ModelBundle teacher, string baseDir, string outDir, string tracesPath, DistillMode mode, double seconds, string runName,
        int seed, CancellationToken cancellation)
    {
        var distill = new DistillConfig
        {
            Mode = mode, TopK = config.TopK,
            Training = new LmTrainingConfig
            {
                LearningRate = config.DistillLearningRate, LrSchedulerType = LrSchedulerType.Constant, WarmupSteps = 20,
                BatchSize = config.DistillBatchSize, MaxSeqLength = 128, MaxSteps = int.MaxValue, MaxSeconds = seconds,
                EvalSteps = 100, EvalBatches = 2, SaveSteps = 0, Seed = seed,
            },
        };
        return TrainingRun.Run("distill", new RunTarget(runsRoot, runName, ModelDir: outDir), new ConfigLayers<DistillConfig>(distill),
            cfg => Distiller.Job(teacher, ModelBundle.Load(baseDir), cfg, tracesPath), observer, cancellation);
    }

    static ExperimentRow Row(string model, string description, string modelDir, ModelScores scores, double stage, double totalSeconds, int steps) =>
        new(model, description, ModelStats.Of(ModelConfig.Load(Path.Combine(modelDir, ModelCheckpoint.ConfigFile))).TotalParameters,
            scores.Heldout, scores.Harder, stage, totalSeconds, steps);

    /// <summary>Optimizer steps of the teacher's GRPO run, &lt;teacher run&gt;-grpo beside it (0 when that folder is not there).</summary>
    static int TeacherSteps(string teacherRun)
    {
        string folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(teacherRun));
        return MetricsRow.Read(Path.Combine(Path.GetDirectoryName(folder)!, Path.GetFileName(folder) + "-grpo", RunFolder.MetricsFile)).LastOrDefault()?.Step ?? 0;
    }
}
