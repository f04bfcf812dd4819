using R1Sharp.Checkpoints;
using R1Sharp.Remote;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;

namespace R1Sharp.Training;

/// <summary>
/// `r1 pretrain`, `r1 sft` and `r1 grpo`: each reads its inputs (a model folder and data), builds its trainer, and
/// runs it through <see cref="TrainingRun"/>. The quickstart builds its stages from the same jobs.
/// </summary>
public static class Recipes
{
    /// <summary>Next-token pretraining on a corpus (JSONL {"text"} documents or plain text), each document ending in EOS,
    /// packed into rows of max_seq_length tokens; eval_share of it held out for eval_loss (<see cref="HeldOutData"/>).</summary>
    public static TrainingOutcome Pretrain(RunTarget target, ConfigLayers<LmTrainingConfig> config, string modelDir, string corpusPath,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("pretrain", target, config, cfg => TrainingJob.For(ModelBundle.Load(modelDir, cfg.Validate().TorchDevice()), bundle =>
        {
            cfg.Validate();
            var eos = bundle.Tokenizer.EosId;
            var documents = TextCorpus.ReadTexts(corpusPath)
                .Select(t => (eos is int e ? bundle.Tokenizer.Encode(t).Append(e) : bundle.Tokenizer.Encode(t)).ToArray()).ToList();
            var (train, heldOut) = HeldOutData.Documents(documents, cfg.HeldOutShare());
            var stream = new PackedTokenStream(train, cfg.BatchSize, cfg.MaxSeqLength, cfg.Seed);
            var evalBatches = HeldOutData.PackedBatches(heldOut, cfg.BatchSize, cfg.MaxSeqLength, cfg.EvalBatches, bundle.Model.Device);
            NoteMissingEval(cfg, evalBatches, $"{corpusPath} holds too little text to hold out a sequence", observer);
            return LanguageModelJob(bundle, cfg, stream, evalBatches);
        }), observer, cancellation);

    /// <summary>Supervised fine-tuning on chat data; the loss is on the assistant's tokens only; eval_share of the
    /// examples (by prompt) held out for eval_loss. Defaults: <see cref="LmTrainingConfig.Sft"/>.</summary>
    public static TrainingOutcome Sft(RunTarget target, ConfigLayers<LmTrainingConfig> config, string modelDir, string dataPath,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("sft", target, config, cfg => TrainingJob.For(ModelBundle.Load(modelDir, cfg.Validate().TorchDevice()), bundle =>
        {
            cfg.Validate();
            var (train, heldOut) = HeldOutData.Split(SftDataset.Load(dataPath, bundle), cfg.HeldOutShare(), e => e.Prompt);
            int pad = bundle.Tokenizer.PadId ?? bundle.Tokenizer.EosId ?? 0;
            var evalBatches = HeldOutData.SftBatches(heldOut, cfg.BatchSize, cfg.MaxSeqLength, pad, cfg.EvalBatches, bundle.Model.Device);
            NoteMissingEval(cfg, evalBatches, $"{dataPath} has a single example", observer);
            return LanguageModelJob(bundle, cfg, new SftBatchSource(train, cfg.BatchSize, cfg.MaxSeqLength, pad, (ulong)cfg.Seed), evalBatches);
        }), observer, cancellation);

    /// <summary>Says why a run that asked for evaluation will log no eval_loss.</summary>
    static void NoteMissingEval(LmTrainingConfig config, IReadOnlyList<TrainingBatch> evalBatches, string why, ITrainingObserver observer)
    {
        if (config.EvalSteps > 0 && config.EvalShare > 0 && evalBatches.Count == 0) observer.Notice($"no eval_loss: {why}");
    }

    /// <summary>GRPO on a verifiable task, with a held-out greedy accuracy every eval_steps.</summary>
    public static TrainingOutcome Grpo(RunTarget target, ConfigLayers<GrpoConfig> config, string modelDir, IVerifiableTask task,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("grpo", target, config, cfg => GrpoJob(cfg, modelDir, task), observer, cancellation);

    /// <summary>
    /// GRPO from the model in <paramref name="modelDir"/>: the task's prompts in the model's chat template, R1's
    /// standard rewards (reward_weights), a frozen copy of the model as reference when beta ≠ 0 (with LoRA the base
    /// itself, its adapter switched off), and the evaluator's held-out check when eval_steps is set.
    /// </summary>
    public static TrainingJob GrpoJob(GrpoConfig config, string modelDir, IVerifiableTask task) =>
        TrainingJob.For(ModelBundle.Load(modelDir, config.Validate().TorchDevice()), loaded =>
        {
            var bundle = config.PrepareModel(loaded);
            var environment = GrpoEnvironment.For(task, bundle, config.RewardWeights);
            var evaluate = config.EvalSteps > 0 ? GrpoTrainer.HeldOutEvaluation(bundle, task, config) : null;
            var reference = config.Beta != 0 && bundle.Adapter is null ? ModelCheckpoint.Load(modelDir, bundle.Model.Device) : null;
            var fleet = RolloutFleetFor(config);
            return new TrainingJob(bundle, config, (run, from, onStep, cancellation) =>
                new GrpoTrainer(bundle.Model, config, environment, reference, bundle.Adapter) { Fleet = fleet }.Run(run, from, onStep, evaluate, cancellation))
                { Owned = [reference, fleet] };
        });

    /// <summary>The rollout servers of rollout_endpoints (docs/scale-out.md); null when rollouts run in process.</summary>
    public static RolloutFleet? RolloutFleetFor(GrpoConfig config) => config.RolloutEndpoints is { Count: > 0 } urls
        ? new RolloutFleet(new RolloutFleetOptions { Urls = urls, Model = config.RolloutModel, RequestTimeoutSeconds = config.RolloutRequestTimeout },
            OpenAiEndpoint.KeyFromEnvironment(config.RolloutApiKeyEnv, "rollout_api_key_env"))
        : null;

    /// <summary>Next-token training of <paramref name="loaded"/>'s model (or of a LoRA adapter over it, with lora_r set)
    /// on <paramref name="batches"/> (with a held-out loss on <paramref name="evalBatches"/> every eval_steps).</summary>
    public static TrainingJob LanguageModelJob(ModelBundle loaded, LmTrainingConfig config, IBatchSource batches,
        IReadOnlyList<TrainingBatch>? evalBatches = null)
    {
        var bundle = config.PrepareModel(loaded);
        return new(bundle, config, (run, from, onStep, cancellation) =>
            new LanguageModelTrainer(bundle.Model, config, batches, evalBatches, adapter: bundle.Adapter).Run(run, from, onStep, cancellation))
        {
            Owned = evalBatches ?? [],
        };
    }
}
