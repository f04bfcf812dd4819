using System.Diagnostics;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Quickstart;

/// <summary>
/// `r1 quickstart`: an R1-Zero run on a laptop CPU. Tokenizer → pretraining corpus → base model → evaluation →
/// GRPO with rule-based rewards → evaluation → (control: the base trained further for RL's wall-clock) → report.
/// Each training stage is a run of its own beside the quickstart's (&lt;name&gt;-pretrain, -grpo, -control).
/// </summary>
public sealed class QuickstartPipeline(QuickstartConfig config, string runsRoot, ITrainingObserver observer)
{
    /// <param name="cost">The rates of the cost cards (null: the enclosing run's, else the defaults).</param>
    public (QuickstartReport Report, string Folder) Run(bool control, string? name = null, CancellationToken cancellation = default, CostRates? cost = null)
    {
        var total = Stopwatch.StartNew();
        torch.set_num_threads(Environment.ProcessorCount);
        return TrainingRun.Pipeline("quickstart", new RunTarget(runsRoot, name, Cost: cost), config, observer, (run, stages) =>
        {
            var task = QuickstartCorpus.Task(config);
            var (tokenizer, documents) = stages.Time("tokenizer", BuildTokenizer);
            string baseDir = Path.Combine(run.Path, "models", "base");
            var pretrain = stages.Time("pretrain", () => Pretrain(tokenizer, documents, run.Name, baseDir, cancellation));
            var baseScores = stages.Time("eval base", () => Evaluate(baseDir, task, pretrain.TrainSeconds));

            string rlDir = Path.Combine(run.Path, "models", "rl");
            var grpo = stages.Time("grpo", () => Grpo(task, baseDir, rlDir, run.Name, cancellation));
            var rlScores = stages.Time("eval rl", () => Evaluate(rlDir, task, grpo.TrainSeconds));

            ModelScores? controlScores = null;
            if (control)
            {
                string controlDir = Path.Combine(run.Path, "models", "control");
                stages.Time("control", () => Control(documents, baseDir, controlDir, run.Name, grpo.TrainSeconds, cancellation));
                controlScores = stages.Time("eval control", () => Evaluate(controlDir, task, grpo.TrainSeconds));
            }

            var report = new QuickstartReport
            {
                Base = baseScores, Rl = rlScores, Control = controlScores,
                SamplesPerPrompt = config.EvalSamples, EvalPrompts = config.EvalPrompts,
                Temperature = config.EvalTemperature, TopP = config.EvalTopP,
                TotalSeconds = total.Elapsed.TotalSeconds, StageSeconds = stages.Seconds, Machine = TrainingRun.Machine, Config = config,
                Cost = stages.Card(),
            };
            AtomicFile.WriteAllText(Path.Combine(run.Path, "report.json"), report.ToJson() + "\n");
            var final = new Dictionary<string, double>
            {
                ["base_heldout_pass1"] = baseScores.Heldout.Pass1, ["rl_heldout_pass1"] = rlScores.Heldout.Pass1,
                ["base_harder_pass1"] = baseScores.Harder.Pass1, ["rl_harder_pass1"] = rlScores.Harder.Pass1,
            };
            return ((report, run.Path), final, report.ToMarkdown(CopyPlots(run, grpo.RunPath)));
        });
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
        SaveSteps = 0, Seed = config.Seed, AdamBeta2 = 0.95, WeightDecay = 0.1, Precision = config.Precision,
    };

    /// <summary>The documents held out of pretraining for its eval_loss: the first 2%.</summary>
    static int HeldOut(List<int[]> documents) => Math.Max(1, documents.Count / 50);

    /// <summary>Pretrains a model of this configuration's shape into <paramref name="modelDir"/> (run &lt;name&gt;-pretrain).</summary>
    public TrainingOutcome Pretrain(HfTokenizer tokenizer, List<int[]> documents, string name, string modelDir, CancellationToken cancellation = default) =>
        TrainingRun.Run("pretrain", new RunTarget(runsRoot, name + "-pretrain", ModelDir: modelDir), new ConfigLayers<LmTrainingConfig>(PretrainConfig), lm =>
        {
            var stream = new PackedTokenStream(documents.Skip(HeldOut(documents)).ToList(), lm.BatchSize, lm.MaxSeqLength, config.Seed);
            var evalStream = new PackedTokenStream(documents.Take(HeldOut(documents)).ToList(), lm.BatchSize, lm.MaxSeqLength, config.Seed);
            var evalBatches = Enumerable.Range(0, lm.EvalBatches).Select(_ => evalStream.Next(CPU)).ToList();
            manual_seed(config.Seed);
            var model = new CausalLanguageModel(config.ModelConfig(tokenizer.VocabSize, tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
            var bundle = new ModelBundle(model, tokenizer, ChatTemplate.FromConfig(TokenizerConfig.ForOwnTokenizers) ?? ChatTemplate.DeepSeekR1, modelDir);
            return Recipes.LanguageModelJob(bundle, lm, stream, evalBatches);
        }, observer, cancellation);

    /// <summary>GRPO from <paramref name="baseDir"/> into <paramref name="rlDir"/> (run &lt;name&gt;-grpo) for rl_steps or max_stage_seconds.</summary>
    public TrainingOutcome Grpo(IVerifiableTask task, string baseDir, string rlDir, string name, CancellationToken cancellation = default)
    {
        var grpo = new GrpoConfig
        {
            NumGenerations = config.RlNumGenerations, PromptsPerStep = config.RlPromptsPerStep,
            MaxPromptLength = 64, MaxCompletionLength = config.MaxCompletionLength, Temperature = config.RlTemperature,
            LearningRate = config.RlLearningRate, LrSchedulerType = LrSchedulerType.Constant, AdamBeta2 = 0.99,
            MaxSteps = config.RlSteps, MaxSeconds = config.MaxStageSeconds, Seed = config.Seed, LoggingSteps = 10, SaveSteps = 0,
            LossType = LossType.Dapo, Beta = config.RlBeta, Precision = config.Precision,
        };
        return TrainingRun.Run("grpo", new RunTarget(runsRoot, name + "-grpo", ModelDir: rlDir), new ConfigLayers<GrpoConfig>(grpo),
            cfg => Recipes.GrpoJob(cfg, baseDir, task), observer, cancellation);
    }

    /// <summary>The base's own data at the base's final learning rate, for exactly the wall-clock RL had.</summary>
    TrainingOutcome Control(List<int[]> documents, string baseDir, string controlDir, string name, double seconds, CancellationToken cancellation)
    {
        var lm = PretrainConfig with
        {
            LearningRate = config.PretrainLearningRate * PretrainConfig.MinLrRate, LrSchedulerType = LrSchedulerType.Constant,
            WarmupSteps = 0, MaxSteps = int.MaxValue, MaxSeconds = seconds, EvalSteps = 0, Seed = config.Seed + 1,
        };
        return TrainingRun.Run("pretrain", new RunTarget(runsRoot, name + "-control", ModelDir: controlDir), new ConfigLayers<LmTrainingConfig>(lm),
            cfg => TrainingJob.For(ModelBundle.Load(baseDir), bundle =>
                Recipes.LanguageModelJob(bundle, cfg, new PackedTokenStream(documents.Skip(HeldOut(documents)).ToList(), cfg.BatchSize, cfg.MaxSeqLength, cfg.Seed))),
            observer, cancellation);
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

    /// <summary>Plots of the GRPO run (reward, accuracy, length, ...) copied beside the quickstart's report; returns their relative paths.</summary>
    static List<string> CopyPlots(RunFolder run, string grpoRun)
    {
        var rows = MetricsRow.Read(Path.Combine(grpoRun, RunFolder.MetricsFile));
        var files = RunPlots.Write(run.PlotsPath, rows, [MetricNames.Reward, MetricNames.Accuracy, MetricNames.MeanLength, MetricNames.Entropy, MetricNames.Kl]);
        return files.Select(f => Path.Combine(RunFolder.PlotsDir, Path.GetFileName(f))).ToList();
    }
}
