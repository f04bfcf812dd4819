using System.CommandLine;
using System.Text.Json;
using R1Sharp.Checkpoints;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// `r1 pretrain`, `r1 sft` and `r1 grpo`: each trains the model in --model, logs to a run folder (runs/NAME), and
/// saves the result to --out. `--resume NAME` continues a killed run from its last checkpoint.
/// </summary>
public static class TrainingCommands
{
    /// <summary>What every training command takes besides its model: where the run goes, how to resume it, threads.</summary>
    internal sealed record RunOptions(Option<string?> Out, Option<string?> RunsDir, Option<string?> Name,
        Option<string?> Resume, Option<string?> Config, Option<int> Threads)
    {
        public static RunOptions AddTo(Command command)
        {
            var r = new RunOptions(
                OptionFactory.Optional<string>("--out", "Where to save the trained model (default: <run folder>/model)"),
                OptionFactory.Optional<string>("--runs-dir", "Where run folders go (default: $R1_RUNS or ./runs)"),
                OptionFactory.Optional<string>("--name", "Run name (default: <kind>-<date>-<time>)"),
                OptionFactory.Optional<string>("--resume", "Continue the killed run of this name from its last checkpoint"),
                OptionFactory.Optional<string>("--config", "JSON file of training options (keys as in the run's config.json)"),
                OptionFactory.WithDefault("--threads", Environment.ProcessorCount, "CPU threads"));
            foreach (var option in new Option[] { r.Out, r.RunsDir, r.Name, r.Resume, r.Config, r.Threads }) command.Options.Add(option);
            return r;
        }
    }

    sealed record Common(Option<string> Model, RunOptions Run)
    {
        public static Common AddTo(Command command)
        {
            var model = OptionFactory.Required<string>("--model", "Model directory to start from (e.g. made by r1 init)");
            command.Options.Add(model);
            return new Common(model, RunOptions.AddTo(command));
        }
    }

    static int Train<TConfig>(ParseResult parse, Common c, string kind, TConfig fresh, Func<string, string, TConfig> parseConfig,
        Func<TConfig, int> steps, Func<TConfig, ModelBundle, RunFolder, CheckpointInfo?, Action<int, IReadOnlyDictionary<string, double>>, IReadOnlyDictionary<string, double>> train)
        where TConfig : notnull =>
        Train(parse, c.Run, kind, fresh, parseConfig, steps, _ => ModelBundle.Load(parse.GetValue(c.Model)!), train);

    /// <summary>
    /// Opens the run (new, or resumed with its saved config), loads the model to train with <paramref name="load"/>, runs
    /// <paramref name="train"/> in a live view and saves the model with its tokenizer.
    /// </summary>
    internal static int Train<TConfig>(ParseResult parse, RunOptions c, string kind, TConfig fresh, Func<string, string, TConfig> parseConfig,
        Func<TConfig, int> steps, Func<TConfig, ModelBundle> load,
        Func<TConfig, ModelBundle, RunFolder, CheckpointInfo?, Action<int, IReadOnlyDictionary<string, double>>, IReadOnlyDictionary<string, double>> train)
        where TConfig : notnull
    {
        TorchSharp.torch.set_num_threads(parse.GetValue(c.Threads));
        string root = parse.GetValue(c.RunsDir) ?? RunStore.DefaultRoot;
        RunFolder run;
        CheckpointInfo? checkpoint = null;
        TConfig config;
        if (parse.GetValue(c.Resume) is { } resumeName)
        {
            run = RunFolder.Resume(root, resumeName, out checkpoint);
            config = parseConfig(run.ReadConfigJson(), run.ConfigPath);
        }
        else
        {
            config = parse.GetValue(c.Config) is { } path
                ? parseConfig(File.Exists(path) ? File.ReadAllText(path) : throw new R1Error($"{path}: config file not found"), path)
                : fresh;
            run = RunFolder.Create(root, parse.GetValue(c.Name) ?? RunFolder.DefaultName(kind), kind, config);
        }
        ModelBundle loaded;
        try
        {
            loaded = load(config);
        }
        catch
        {
            run.Finish(RunStatus.Failed);
            throw;
        }
        using var bundle = loaded;
        IReadOnlyDictionary<string, double> last;
        using (var view = new TrainingView(AnsiConsole.Console, $"{kind} {run.Name}", steps(config), checkpoint?.Step ?? 0))
        {
            try
            {
                last = train(config, bundle, run, checkpoint, view.Update);
            }
            catch
            {
                run.Finish(RunStatus.Failed);
                throw;
            }
        }
        string output = parse.GetValue(c.Out) ?? Path.Combine(run.Path, "model");
        ModelCheckpoint.Save(bundle.Model, output);
        TokenizerLoader.Save(output, bundle.Tokenizer.Definition, bundle.Tokenizer.Config ?? TokenizerConfig.ForOwnTokenizers);
        run.Finish(RunStatus.Finished, last);
        AnsiConsole.MarkupLineInterpolated($"[green]done[/]: run {run.Path}, model {output}");
        return 0;
    }

    public static Command Pretrain()
    {
        var command = new Command("pretrain", "Next-token pretraining on a text or JSONL {\"text\"} corpus, packed into fixed-length rows");
        var c = Common.AddTo(command);
        var data = OptionFactory.Required<string>("--data", "Corpus: .jsonl of {\"text\": ...} documents, or a plain text file");
        var steps = OptionFactory.Optional<int?>("--max-steps", "Optimizer steps (overrides the config)");
        command.Options.Add(data);
        command.Options.Add(steps);
        command.SetAction(parse => Train(parse, c, "pretrain", new LmTrainingConfig { MaxSteps = parse.GetValue(steps) ?? 500 },
            LmTrainingConfig.FromJson, cfg => cfg.MaxSteps, (cfg, bundle, run, checkpoint, onStep) =>
            {
                var eos = bundle.Tokenizer.EosId;
                var documents = TextCorpus.ReadTexts(parse.GetValue(data)!)
                    .Select(t => (eos is int e ? bundle.Tokenizer.Encode(t).Append(e) : bundle.Tokenizer.Encode(t)).ToArray()).ToList();
                var stream = new PackedTokenStream(documents, cfg.BatchSize, cfg.MaxSeqLength, cfg.Seed);
                return new LanguageModelTrainer(bundle.Model, cfg, stream).Run(run, checkpoint, onStep);
            }));
        return command;
    }

    public static Command Sft()
    {
        var command = new Command("sft", "Supervised fine-tuning on chat data; loss on the assistant's tokens only");
        var c = Common.AddTo(command);
        var data = OptionFactory.Required<string>("--data", "JSONL of {\"messages\": [...]} or {\"prompt\", \"response\"} lines");
        var steps = OptionFactory.Optional<int?>("--max-steps", "Optimizer steps (overrides the config)");
        command.Options.Add(data);
        command.Options.Add(steps);
        command.SetAction(parse => Train(parse, c, "sft", new LmTrainingConfig { MaxSteps = parse.GetValue(steps) ?? 200, LearningRate = 3e-4 },
            LmTrainingConfig.FromJson, cfg => cfg.MaxSteps, (cfg, bundle, run, checkpoint, onStep) =>
            {
                var examples = SftDataset.Load(parse.GetValue(data)!, bundle);
                var pad = bundle.Tokenizer.PadId ?? bundle.Tokenizer.EosId ?? 0;
                var source = new SftBatchSource(examples, cfg.BatchSize, cfg.MaxSeqLength, pad, (ulong)cfg.Seed);
                return new LanguageModelTrainer(bundle.Model, cfg, source).Run(run, checkpoint, onStep);
            }));
        return command;
    }

    public static Command Grpo()
    {
        var command = new Command("grpo", "GRPO with verifiable rewards (options named as TRL's GRPOConfig)");
        var c = Common.AddTo(command);
        var task = OptionFactory.Optional<string>("--task", TaskSource.TaskHelp);
        var data = OptionFactory.Optional<string>("--data", "Dataset file (.jsonl or .parquet) with prompts and answers");
        // TRL's GRPOConfig names, spelled as command-line options.
        var numGenerations = OptionFactory.Optional<int?>("--num-generations", "G: completions per prompt (TRL default 8)");
        var promptsPerStep = OptionFactory.Optional<int?>("--prompts-per-step", "Prompts per optimizer step (default 16)");
        var maxCompletion = OptionFactory.Optional<int?>("--max-completion-length", "Most tokens per completion (default 512)");
        var temperature = OptionFactory.Optional<double?>("--temperature", "Rollout temperature (default 1.0)");
        var topP = OptionFactory.Optional<double?>("--top-p", "Rollout nucleus sampling (default 1.0)");
        var beta = OptionFactory.Optional<double?>("--beta", "KL weight to the frozen reference, k3 estimator; 0 skips the reference (default 0)");
        var epsilon = OptionFactory.Optional<double?>("--epsilon", "Lower clip range (default 0.2)");
        var epsilonHigh = OptionFactory.Optional<double?>("--epsilon-high", "Upper clip range, clip-higher (default = epsilon)");
        var iterations = OptionFactory.Optional<int?>("--num-iterations", "μ: updates per rollout batch (default 1)");
        var lossType = OptionFactory.Optional<string>("--loss-type", "grpo | bnpo | dr_grpo | dapo (default dapo)");
        var scaleRewards = OptionFactory.Optional<string>("--scale-rewards", "group | batch | none (default group)");
        var maskTruncated = OptionFactory.Optional<bool?>("--mask-truncated-completions", "Leave truncated completions out of the loss");
        var dynamic = OptionFactory.Optional<bool?>("--dynamic-sampling", "Drop groups with equal rewards and refill (DAPO)");
        var lr = OptionFactory.Optional<double?>("--learning-rate", "Peak learning rate (default 1e-6; tiny models want ~1e-4)");
        var steps = OptionFactory.Optional<int?>("--max-steps", "Optimizer steps (default 100)");
        var seed = OptionFactory.Optional<int?>("--seed", "Seed (default 42)");
        var evalSteps = OptionFactory.Optional<int?>("--eval-steps", "Held-out accuracy every this many steps (0: never)");
        foreach (var option in new Option[] { task, data, numGenerations, promptsPerStep, maxCompletion, temperature, topP, beta, epsilon, epsilonHigh,
                     iterations, lossType, scaleRewards, maskTruncated, dynamic, lr, steps, seed, evalSteps })
            command.Options.Add(option);
        command.SetAction(parse =>
        {
            var source = TaskSource.Resolve(parse.GetValue(task), parse.GetValue(data), parse.GetValue(c.Model)!);
            GrpoConfig Apply(GrpoConfig g) => g with
            {
                NumGenerations = parse.GetValue(numGenerations) ?? g.NumGenerations,
                PromptsPerStep = parse.GetValue(promptsPerStep) ?? g.PromptsPerStep,
                MaxCompletionLength = parse.GetValue(maxCompletion) ?? g.MaxCompletionLength,
                Temperature = parse.GetValue(temperature) ?? g.Temperature,
                TopP = parse.GetValue(topP) ?? g.TopP,
                Beta = parse.GetValue(beta) ?? g.Beta,
                Epsilon = parse.GetValue(epsilon) ?? g.Epsilon,
                EpsilonHigh = parse.GetValue(epsilonHigh) ?? g.EpsilonHigh,
                NumIterations = parse.GetValue(iterations) ?? g.NumIterations,
                LossType = parse.GetValue(lossType) is { } l ? SnakeCase.Parse<LossType>(l, "--loss-type") : g.LossType,
                ScaleRewards = parse.GetValue(scaleRewards) is { } s ? SnakeCase.Parse<ScaleRewards>(s, "--scale-rewards") : g.ScaleRewards,
                MaskTruncatedCompletions = parse.GetValue(maskTruncated) ?? g.MaskTruncatedCompletions,
                DynamicSampling = parse.GetValue(dynamic) ?? g.DynamicSampling,
                LearningRate = parse.GetValue(lr) ?? g.LearningRate,
                MaxSteps = parse.GetValue(steps) ?? g.MaxSteps,
                Seed = parse.GetValue(seed) ?? g.Seed,
                EvalSteps = parse.GetValue(evalSteps) ?? g.EvalSteps,
            };
            return Train(parse, c, "grpo", Apply(new GrpoConfig()), (json, path) => Apply(GrpoConfig.FromJson(json, path)),
                cfg => cfg.MaxSteps, (cfg, bundle, run, checkpoint, onStep) =>
                {
                    cfg.Validate();
                    var environment = new GrpoEnvironment(source, cfg.RewardWeights is { } weights ? CompositeReward.Standard().Reweighted(weights) : CompositeReward.Standard(), bundle.Tokenizer,
                        e => bundle.EncodeChat(e.Prompt), bundle.Template.OpensThink);
                    using var reference = cfg.Beta != 0 ? ModelCheckpoint.Load(bundle.Directory) : null;
                    var heldout = source.Examples(TaskSplit.Test, cfg.Seed).Take(64).ToList();
                    return new GrpoTrainer(bundle.Model, cfg, environment, reference).Run(run, checkpoint, onStep,
                        evaluate: _ => new Dictionary<string, double> { ["eval/accuracy"] = HeldoutAccuracy(bundle, source, heldout, cfg) });
                });
        });
        return command;
    }

    /// <summary>Greedy accuracy on held-out prompts: the periodic check that RL generalises.</summary>
    static double HeldoutAccuracy(ModelBundle bundle, IVerifiableTask task, IReadOnlyList<TaskExample> examples, GrpoConfig cfg)
    {
        if (examples.Count == 0) return double.NaN;
        var engine = new Generation.GenerationEngine(bundle.Model, bundle.Tokenizer);
        var options = new Generation.SamplingOptions { Temperature = 0, MaxNewTokens = cfg.MaxCompletionLength };
        var results = engine.Generate(examples.Select(e => new Generation.GenerationRequest(
            bundle.EncodeChat(e.Prompt), options)).ToList());
        return examples.Select((e, i) => task.IsCorrect(Evaluation.ModelEvaluator.CompletionText(bundle.Tokenizer, results[i][0]), e.Answer,
            bundle.Template.OpensThink) ? 1.0 : 0.0).Average();
    }
}
