using System.Diagnostics;
using System.Runtime.InteropServices;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Quickstart;

/// <summary>What the quickstart tells its watcher (the CLI draws it live).</summary>
public interface IQuickstartObserver
{
    void StageStarted(string stage, int totalSteps);
    void Step(int step, IReadOnlyDictionary<string, double> metrics);
    void StageFinished(string stage, string summary);
}

/// <summary>
/// `r1 quickstart`: an R1-Zero run on a laptop CPU. Tokenizer → pretraining corpus → base model → evaluation →
/// GRPO with rule-based rewards → evaluation → (control: the base trained further for RL's wall-clock) → report.
/// </summary>
public sealed class QuickstartPipeline(QuickstartConfig config, string runsRoot, IQuickstartObserver observer)
{
    readonly Dictionary<string, double> stageSeconds = [];
    RunFolder? grpoRun;

    public (QuickstartReport Report, string Folder) Run(bool control, string? name = null, CancellationToken cancellation = default)
    {
        var total = Stopwatch.StartNew();
        torch.set_num_threads(Environment.ProcessorCount);
        name ??= RunFolder.DefaultName("quickstart");
        var run = RunFolder.Create(runsRoot, name, "quickstart", config);
        try
        {
            var task = QuickstartCorpus.Task(config);
            var (tokenizer, documents) = Timed("tokenizer", () => BuildTokenizer());
            string baseDir = Path.Combine(run.Path, "models", "base");
            double pretrainSeconds = Timed("pretrain", () => Pretrain(tokenizer, documents, name, baseDir, cancellation));
            var baseScores = Timed("eval base", () => Evaluate(baseDir, task, pretrainSeconds));

            string rlDir = Path.Combine(run.Path, "models", "rl");
            double rlSeconds = Timed("grpo", () => Grpo(task, baseDir, rlDir, name, cancellation));
            var rlScores = Timed("eval rl", () => Evaluate(rlDir, task, rlSeconds));

            ModelScores? controlScores = null;
            if (control)
            {
                string controlDir = Path.Combine(run.Path, "models", "control");
                double controlSeconds = Timed("control", () => Control(tokenizer, documents, baseDir, controlDir, name, rlSeconds, cancellation));
                controlScores = Timed("eval control", () => Evaluate(controlDir, task, controlSeconds));
            }

            var report = new QuickstartReport
            {
                Base = baseScores, Rl = rlScores, Control = controlScores,
                SamplesPerPrompt = config.EvalSamples, EvalPrompts = config.EvalPrompts,
                Temperature = config.EvalTemperature, TopP = config.EvalTopP,
                TotalSeconds = total.Elapsed.TotalSeconds, StageSeconds = stageSeconds,
                Machine = $"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}",
                Config = config,
            };
            AtomicFile.WriteAllText(Path.Combine(run.Path, "report.json"), report.ToJson() + "\n");
            var plots = CopyGrpoPlots(run);
            run.WriteReport(report.ToMarkdown(plots));
            run.Finish(RunStatus.Finished, new Dictionary<string, double>
            {
                ["base_heldout_pass1"] = baseScores.Heldout.Pass1, ["rl_heldout_pass1"] = rlScores.Heldout.Pass1,
                ["base_harder_pass1"] = baseScores.Harder.Pass1, ["rl_harder_pass1"] = rlScores.Harder.Pass1,
            }, report.ToMarkdown(plots));
            return (report, run.Path);
        }
        catch
        {
            run.Finish(RunStatus.Failed);
            throw;
        }
    }

    T Timed<T>(string stage, Func<T> body)
    {
        var clock = Stopwatch.StartNew();
        var result = body();
        stageSeconds[stage] = clock.Elapsed.TotalSeconds;
        return result;
    }

    (HfTokenizer, List<int[]>) BuildTokenizer()
    {
        observer.StageStarted("tokenizer + corpus", 0);
        var texts = QuickstartCorpus.Documents(config);
        // A few thousand documents show every merge worth having in this narrow corpus.
        var definition = BpeTrainer.Train(texts.Take(4000), config.TokenizerVocabSize);
        var tokenizer = new HfTokenizer(definition, TokenizerConfig.ForOwnTokenizers);
        var documents = Encode(texts, tokenizer);
        observer.StageFinished("tokenizer + corpus", $"{tokenizer.VocabSize} tokens, {documents.Count:N0} documents, {documents.Sum(d => (long)d.Length):N0} tokens");
        return (tokenizer, documents);
    }

    static List<int[]> Encode(List<string> texts, HfTokenizer tokenizer) => texts.Select(t => tokenizer.Encode(t).ToArray()).ToList();

    /// <summary>The pretraining corpus encoded with a given tokenizer (a smaller student reuses its teacher's).</summary>
    public List<int[]> Corpus(HfTokenizer tokenizer) => Encode(QuickstartCorpus.Documents(config), tokenizer);

    LmTrainingConfig PretrainConfig => new()
    {
        LearningRate = config.PretrainLearningRate, WarmupSteps = Math.Min(100, config.PretrainSteps / 10),
        MaxSteps = config.PretrainSteps, MaxSeconds = config.MaxStageSeconds, BatchSize = config.PretrainBatchSize,
        MaxSeqLength = config.PretrainSeqLength, EvalSteps = Math.Max(1, config.PretrainSteps / 4), EvalBatches = 4,
        SaveSteps = 0, Seed = config.Seed, AdamBeta2 = 0.95, WeightDecay = 0.1,
    };

    /// <summary>Pretrains a model of this configuration's shape into <paramref name="modelDir"/> (run &lt;name&gt;-pretrain); returns its seconds.</summary>
    public double Pretrain(HfTokenizer tokenizer, List<int[]> documents, string name, string modelDir, CancellationToken cancellation = default)
    {
        var lm = PretrainConfig;
        observer.StageStarted("pretrain", lm.MaxSteps);
        int held = Math.Max(1, documents.Count / 50);
        var stream = new PackedTokenStream(documents.Skip(held).ToList(), lm.BatchSize, lm.MaxSeqLength, config.Seed);
        var evalStream = new PackedTokenStream(documents.Take(held).ToList(), lm.BatchSize, lm.MaxSeqLength, config.Seed);
        var evalBatches = Enumerable.Range(0, lm.EvalBatches).Select(_ => evalStream.Next(CPU)).ToList();
        manual_seed(config.Seed);
        using var model = new CausalLanguageModel(config.ModelConfig(tokenizer.VocabSize, tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
        var run = RunFolder.Create(runsRoot, name + "-pretrain", "pretrain", lm);
        var clock = Stopwatch.StartNew();
        var last = new LanguageModelTrainer(model, lm, stream, evalBatches).Run(run, onStep: observer.Step, cancellation: cancellation);
        double seconds = clock.Elapsed.TotalSeconds;
        run.Finish(RunStatus.Finished, last);
        SaveModel(model, tokenizer, modelDir);
        observer.StageFinished("pretrain", $"loss {last.GetValueOrDefault("loss"):F3}, eval loss {last.GetValueOrDefault("eval_loss"):F3} in {seconds:F0} s");
        return seconds;
    }

    static void SaveModel(CausalLanguageModel model, HfTokenizer tokenizer, string dir)
    {
        ModelCheckpoint.Save(model, dir);
        TokenizerLoader.Save(dir, tokenizer.Definition, tokenizer.Config ?? TokenizerConfig.ForOwnTokenizers);
    }

    /// <summary>GRPO from <paramref name="baseDir"/> into <paramref name="rlDir"/> (run &lt;name&gt;-grpo) for rl_steps or max_stage_seconds; returns its seconds.</summary>
    public double Grpo(IVerifiableTask task, string baseDir, string rlDir, string name, CancellationToken cancellation = default)
    {
        var grpo = new GrpoConfig
        {
            NumGenerations = config.RlNumGenerations, PromptsPerStep = config.RlPromptsPerStep,
            MaxPromptLength = 64, MaxCompletionLength = config.MaxCompletionLength, Temperature = config.RlTemperature,
            LearningRate = config.RlLearningRate, LrSchedulerType = LrSchedulerType.Constant, AdamBeta2 = 0.99,
            MaxSteps = config.RlSteps, Seed = config.Seed, LoggingSteps = 10, SaveSteps = 0, LossType = LossType.Dapo,
            Beta = config.RlBeta,
        };
        observer.StageStarted("grpo", grpo.MaxSteps);
        using var bundle = ModelBundle.Load(baseDir);
        var environment = new GrpoEnvironment(task, CompositeReward.Standard(), bundle.Tokenizer,
            e => bundle.EncodeChat(e.Prompt), bundle.Template.OpensThink);
        var run = grpoRun = RunFolder.Create(runsRoot, name + "-grpo", "grpo", grpo);
        var clock = Stopwatch.StartNew();
        using var reference = grpo.Beta != 0 ? ModelCheckpoint.Load(baseDir) : null;
        var last = new GrpoTrainer(bundle.Model, grpo, environment, reference).Run(run, onStep: observer.Step,
            maxSeconds: config.MaxStageSeconds, cancellation: cancellation);
        double seconds = clock.Elapsed.TotalSeconds;
        run.Finish(RunStatus.Finished, last);
        SaveModel(bundle.Model, bundle.Tokenizer, rlDir);
        observer.StageFinished("grpo", $"reward {last.GetValueOrDefault(MetricNames.Reward):F3}, accuracy {last.GetValueOrDefault(MetricNames.Accuracy):F3}, length {last.GetValueOrDefault(MetricNames.MeanLength):F1} in {seconds:F0} s");
        return seconds;
    }

    double Control(HfTokenizer tokenizer, List<int[]> documents, string baseDir, string controlDir, string name, double seconds,
        CancellationToken cancellation)
    {
        // The base's own data at the base's final learning rate, for exactly the wall-clock RL had.
        var lm = PretrainConfig with
        {
            LearningRate = config.PretrainLearningRate * PretrainConfig.MinLrRate, LrSchedulerType = LrSchedulerType.Constant,
            WarmupSteps = 0, MaxSteps = 1_000_000, MaxSeconds = seconds, EvalSteps = 0, Seed = config.Seed + 1,
        };
        observer.StageStarted("control", 0);
        using var bundle = ModelBundle.Load(baseDir);
        var stream = new PackedTokenStream(documents.Skip(Math.Max(1, documents.Count / 50)).ToList(), lm.BatchSize, lm.MaxSeqLength, lm.Seed);
        var run = RunFolder.Create(runsRoot, name + "-control", "pretrain", lm);
        var last = new LanguageModelTrainer(bundle.Model, lm, stream).Run(run, onStep: observer.Step, cancellation: cancellation);
        run.Finish(RunStatus.Finished, last);
        SaveModel(bundle.Model, tokenizer, controlDir);
        observer.StageFinished("control", $"{run.ReadMetrics().Count} more pretraining steps, loss {last.GetValueOrDefault("loss"):F3}");
        return seconds;
    }

    /// <summary>The model on the held-out and harder splits by R1's protocol; samples and summaries go to &lt;modelDir&gt;/eval.</summary>
    public ModelScores Evaluate(string modelDir, IVerifiableTask task, double trainSeconds)
    {
        string label = Path.GetFileName(modelDir);
        observer.StageStarted($"eval {label}", 0);
        using var bundle = ModelBundle.Load(modelDir);
        var options = new ModelEvalOptions
        {
            Prompts = config.EvalPrompts, Samples = config.EvalSamples, Temperature = config.EvalTemperature, TopP = config.EvalTopP,
            MaxTokens = config.MaxCompletionLength, Seed = config.Seed, BatchPrompts = 100,
        };
        var heldout = ModelEvaluator.Run(bundle, task, TaskSplit.Test, options);
        var harder = ModelEvaluator.Run(bundle, task, TaskSplit.Harder, options);
        Directory.CreateDirectory(Path.Combine(modelDir, "eval"));
        heldout.Report.Save(Path.Combine(modelDir, "eval", "heldout.json"));
        harder.Report.Save(Path.Combine(modelDir, "eval", "harder.json"));
        ScoredSample.WriteJsonl(Path.Combine(modelDir, "eval", "heldout-samples.jsonl"), heldout.Samples);
        ScoredSample.WriteJsonl(Path.Combine(modelDir, "eval", "harder-samples.jsonl"), harder.Samples);
        var scores = new ModelScores(SplitScores.From(heldout), SplitScores.From(harder), trainSeconds);
        observer.StageFinished($"eval {label}", $"held-out pass@1 {scores.Heldout.Pass1:P1}, harder pass@1 {scores.Harder.Pass1:P1}, {scores.Heldout.MeanResponseTokens:F1} tokens");
        return scores;
    }

    /// <summary>Plots of the GRPO run (reward, accuracy, length, ...) beside the quickstart's report.</summary>
    List<string> CopyGrpoPlots(RunFolder run)
    {
        var files = grpoRun!.WritePlots([MetricNames.Reward, MetricNames.Accuracy, MetricNames.MeanLength, MetricNames.Entropy, MetricNames.Kl]);
        Directory.CreateDirectory(run.PlotsPath);
        var copied = new List<string>();
        foreach (var file in files)
        {
            string target = Path.Combine(run.PlotsPath, Path.GetFileName(file));
            File.Copy(file, target, overwrite: true);
            copied.Add(Path.Combine(RunFolder.PlotsDir, Path.GetFileName(file)));
        }
        return copied;
    }
}
