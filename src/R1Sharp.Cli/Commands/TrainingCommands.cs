using System.CommandLine;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Training;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// `r1 pretrain`, `r1 sft` and `r1 grpo`: each parses its options and runs its recipe (<see cref="Recipes"/>), which
/// trains the model in --model in a run folder (runs/NAME) and saves the result to --out. `--resume NAME` continues a
/// stopped run from its last checkpoint. Options: built-in defaults &lt; --config FILE &lt; flags.
/// </summary>
public static class TrainingCommands
{
    /// <summary>What every training command takes besides its model and data: where the run goes, how to resume it,
    /// its config file, threads, the rates of its cost card.</summary>
    internal sealed record RunOptions(Option<string?> Out, Option<string?> RunsDir, Option<string?> Name,
        Option<string?> Resume, Option<string?> Config, Option<int> Threads, CostFlags Cost)
    {
        public static RunOptions AddTo(Command command)
        {
            var r = new RunOptions(
                OptionFactory.OptionalPath("--out", "Where to save the trained model (default: <run folder>/model)"),
                OptionFactory.OptionalPath("--runs-dir", "Where run folders go (default: $R1_RUNS or ./runs)"),
                OptionFactory.Optional<string>("--name", "Run name (default: <kind>-<date>-<time>)"),
                OptionFactory.Optional<string>("--resume", "Continue the stopped run of this name from its last checkpoint"),
                OptionFactory.OptionalPath("--config", "JSON file of training options (keys as in the run's config.json); flags override it"),
                OptionFactory.Threads(), CostFlags.AddTo(command));
            foreach (var option in new Option[] { r.Out, r.RunsDir, r.Name, r.Resume, r.Config, r.Threads }) command.Options.Add(option);
            return r;
        }

        public string? ConfigFile(ParseResult parse) => parse.GetValue(Config);

        /// <summary>Sets the threads, runs <paramref name="train"/> with the run's target and a console view, and says
        /// where the run and the model went. Ctrl+C or SIGTERM cancels the run after its current step (it saves a checkpoint).</summary>
        public void Action(Command command, Func<ParseResult, RunTarget, ITrainingObserver, CancellationToken, TrainingOutcome> train) =>
            command.SetAction((parse, cancellation) => Task.Run(() =>
            {
                TorchSharp.torch.set_num_threads(parse.GetValue(Threads));
                var target = new RunTarget(parse.GetValue(RunsDir) ?? RunStore.DefaultRoot, parse.GetValue(Name), parse.GetValue(Resume), parse.GetValue(Out),
                    Cost.Resolve(parse));
                var cli = CliOutput.Of(parse);
                using var observer = new ConsoleObserver(cli);
                var outcome = train(parse, target, observer, cancellation);
                cli.Results.MarkupLine($"[green]done[/]: run {Markup.Escape(outcome.RunPath)}, model {Markup.Escape(outcome.ModelDir)}");
                return 0;
            }, CancellationToken.None));
    }

    /// <summary>The help of --max-seconds (config key max_seconds).</summary>
    internal const string MaxSecondsHelp = "Stop after this much training wall-clock, at the end of a step; 0: no limit (max_steps still spans the schedule)";

    /// <summary>The help of every training command's --precision.</summary>
    internal const string PrecisionHelp = "Matrix products in fp32 or bf16 (fp32 master weights, optimizer, norms and losses); " +
                                          "auto measures both on the run's shapes and takes bf16 only when clearly faster; a resumed run keeps its own";

    static Option<string> ModelOption(Command command)
    {
        var model = OptionFactory.RequiredPath("--model", "Model directory to start from (e.g. made by r1 init)");
        command.Options.Add(model);
        return model;
    }

    public static Command Pretrain() => LanguageModelCommand("pretrain", "Next-token pretraining on a text or JSONL {\"text\"} corpus, packed into fixed-length rows",
        "Corpus: .jsonl of {\"text\": ...} documents, or a plain text file", new LmTrainingConfig(), Recipes.Pretrain);

    public static Command Sft() => LanguageModelCommand("sft", "Supervised fine-tuning on chat data; loss on the assistant's tokens only",
        "JSONL of {\"messages\": [...]} or {\"prompt\", \"response\"} lines", LmTrainingConfig.Sft, Recipes.Sft);

    /// <summary>`r1 pretrain` and `r1 sft`: a model, data, and the next-token recipe with its defaults.</summary>
    static Command LanguageModelCommand(string name, string description, string dataHelp, LmTrainingConfig defaults,
        Func<RunTarget, ConfigLayers<LmTrainingConfig>, string, string, ITrainingObserver, CancellationToken, TrainingOutcome> recipe)
    {
        var command = new Command(name, description);
        var model = ModelOption(command);
        var data = OptionFactory.RequiredPath("--data", dataHelp);
        command.Options.Add(data);
        var flags = new ConfigFlags<LmTrainingConfig>(command, defaults)
            .Add("--max-steps", "Optimizer steps", c => c.MaxSteps, (c, v) => c with { MaxSteps = v })
            .Add("--max-seconds", MaxSecondsHelp, c => c.MaxSeconds, (c, v) => c with { MaxSeconds = v })
            .Add("--learning-rate", "Peak learning rate", c => c.LearningRate, (c, v) => c with { LearningRate = v })
            .Add("--seed", "Seed of data order", c => c.Seed, (c, v) => c with { Seed = v })
            .Add("--device", "cpu, or cuda[:N] with a TorchSharp CUDA build", c => c.Device, (c, v) => c with { Device = v ?? "cpu" })
            .AddChoice("--precision", PrecisionHelp, c => c.Precision, (c, v) => c with { Precision = v })
            .AddLora(c => c, (_, a) => (LmTrainingConfig)a);
        var run = RunOptions.AddTo(command);
        run.Action(command, (parse, target, observer, cancellation) => recipe(target, flags.Layers(parse, run.ConfigFile(parse)),
            parse.GetValue(model)!, parse.GetValue(data)!, observer, cancellation));
        return command;
    }

    public static Command Grpo()
    {
        var command = new Command("grpo", "GRPO with verifiable rewards (options named as TRL's GRPOConfig)");
        var model = ModelOption(command);
        var task = OptionFactory.Optional<string>("--task", TaskSource.TaskHelp);
        var data = OptionFactory.OptionalPath("--data", "Dataset file (.jsonl or .parquet) with prompts and answers; read in epochs, reshuffled each");
        command.Options.Add(task);
        command.Options.Add(data);
        // TRL's GRPOConfig names, spelled as command-line options.
        var flags = new ConfigFlags<GrpoConfig>(command, new GrpoConfig())
            .Add("--num-generations", "G: completions per prompt", c => c.NumGenerations, (c, v) => c with { NumGenerations = v })
            .Add("--prompts-per-step", "Prompts per optimizer step", c => c.PromptsPerStep, (c, v) => c with { PromptsPerStep = v })
            .Add("--max-completion-length", "Most tokens per completion", c => c.MaxCompletionLength, (c, v) => c with { MaxCompletionLength = v })
            .Add("--temperature", "Rollout temperature", c => c.Temperature, (c, v) => c with { Temperature = v })
            .Add("--top-p", "Rollout nucleus sampling", c => c.TopP, (c, v) => c with { TopP = v })
            .Add("--beta", "KL weight to the frozen reference, k3 estimator; 0 skips the reference", c => c.Beta, (c, v) => c with { Beta = v })
            .Add("--epsilon", "Lower clip range", c => c.Epsilon, (c, v) => c with { Epsilon = v })
            .Add("--epsilon-high", "Upper clip range, clip-higher; none means = epsilon", c => c.EpsilonHigh, (c, v) => c with { EpsilonHigh = v })
            .Add("--num-iterations", "μ: updates per rollout batch", c => c.NumIterations, (c, v) => c with { NumIterations = v })
            .AddChoice("--loss-type", "Token-loss aggregation", c => c.LossType, (c, v) => c with { LossType = v })
            .AddChoice("--scale-rewards", "What centred rewards are divided by", c => c.ScaleRewards, (c, v) => c with { ScaleRewards = v })
            .Add("--mask-truncated-completions", "Leave truncated completions out of the loss", c => c.MaskTruncatedCompletions, (c, v) => c with { MaskTruncatedCompletions = v })
            .Add("--dynamic-sampling", "Drop groups with equal rewards and refill (DAPO)", c => c.DynamicSampling, (c, v) => c with { DynamicSampling = v })
            .Add("--learning-rate", "Peak learning rate (tiny models want ~1e-4)", c => c.LearningRate, (c, v) => c with { LearningRate = v })
            .Add("--max-steps", "Optimizer steps", c => c.MaxSteps, (c, v) => c with { MaxSteps = v })
            .Add("--max-seconds", MaxSecondsHelp, c => c.MaxSeconds, (c, v) => c with { MaxSeconds = v })
            .Add("--seed", "Seed of prompt order and sampling", c => c.Seed, (c, v) => c with { Seed = v })
            .Add("--eval-steps", "Held-out greedy accuracy every this many steps (0: never)", c => c.EvalSteps, (c, v) => c with { EvalSteps = v })
            .Add("--rollout-endpoints", "Servers that generate the rollouts, URL[,URL...] like http://host:8080/v1 (docs/scale-out.md); none: in process",
                c => c.RolloutEndpoints is null ? null : string.Join(",", c.RolloutEndpoints),
                (c, v) => c with { RolloutEndpoints = v?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) })
            .Add("--device", "Where the learner trains: cpu, or cuda[:N] with a TorchSharp CUDA build", c => c.Device, (c, v) => c with { Device = v ?? "cpu" })
            .Add("--rollout-is-cap", "Truncated importance sampling cap C (verl's TIS) for the sampler/learner gap; none: no correction",
                c => c.RolloutIsCap, (c, v) => c with { RolloutIsCap = v })
            .AddChoice("--precision", PrecisionHelp, c => c.Precision, (c, v) => c with { Precision = v })
            .AddChoice("--rollout-precision", "Weights in-process rollouts read: fp32, bf16 (bfloat16 copies, half the bytes per token; " +
                "the learner recomputes log-probs in fp32 and logs the gap), or auto (bf16 only where native and clearly faster)",
                c => c.RolloutPrecision, (c, v) => c with { RolloutPrecision = v })
            .AddLora(c => c, (_, a) => (GrpoConfig)a);
        var run = RunOptions.AddTo(command);
        run.Action(command, (parse, target, observer, cancellation) => Recipes.Grpo(target, flags.Layers(parse, run.ConfigFile(parse)),
            parse.GetValue(model)!, TaskSource.Resolve(parse.GetValue(task), parse.GetValue(data), parse.GetValue(model)!), observer, cancellation));
        return command;
    }

    /// <summary>
    /// LoRA and memory flags of sft, grpo and distill (TRL's names, PEFT's meaning), setting the training options of
    /// configs that hold them at <paramref name="get"/>.
    /// </summary>
    internal static ConfigFlags<T> AddLora<T>(this ConfigFlags<T> flags, Func<T, TrainingArguments> get, Func<T, TrainingArguments, T> set)
        where T : notnull => flags
        .Add("--lora-r", "LoRA rank: above 0, train a LoRA adapter over the frozen model and save only it (PEFT's format); 0 trains every weight",
            c => get(c).LoraR, (c, v) => set(c, get(c) with { LoraR = v }))
        .Add("--lora-alpha", "LoRA alpha: the update is scaled by alpha / r", c => get(c).LoraAlpha, (c, v) => set(c, get(c) with { LoraAlpha = v }))
        .Add("--lora-dropout", "Dropout on the adapter's input while training", c => get(c).LoraDropout, (c, v) => set(c, get(c) with { LoraDropout = v }))
        .Add("--lora-target-modules", "Projections LoRA wraps: all-linear, names (q_proj,v_proj) or a regex over module paths",
            c => get(c).LoraTargetModules.ToString(), (c, v) => set(c, get(c) with { LoraTargetModules = LoraTargetModules.Parse(v) }))
        .Add("--use-rslora", "Rank-stabilised LoRA: scale by alpha / sqrt(r)", c => get(c).UseRslora, (c, v) => set(c, get(c) with { UseRslora = v }))
        .Add("--gradient-checkpointing", "Recompute each layer's activations in backward: less memory, one more forward",
            c => get(c).GradientCheckpointing, (c, v) => set(c, get(c) with { GradientCheckpointing = v }));
}
