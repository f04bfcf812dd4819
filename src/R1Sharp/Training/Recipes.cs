using R1Sharp.Checkpoints;
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
    /// packed into rows of max_seq_length tokens.</summary>
    public static TrainingOutcome Pretrain(RunTarget target, ConfigLayers<LmTrainingConfig> config, string modelDir, string corpusPath,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("pretrain", target, config, cfg => TrainingJob.For(ModelBundle.Load(modelDir), bundle =>
        {
            cfg.Validate();
            var eos = bundle.Tokenizer.EosId;
            var documents = TextCorpus.ReadTexts(corpusPath)
                .Select(t => (eos is int e ? bundle.Tokenizer.Encode(t).Append(e) : bundle.Tokenizer.Encode(t)).ToArray()).ToList();
            return LanguageModelJob(bundle, cfg, new PackedTokenStream(documents, cfg.BatchSize, cfg.MaxSeqLength, cfg.Seed));
        }), observer, cancellation);

    /// <summary>Supervised fine-tuning on chat data; the loss is on the assistant's tokens only. Defaults:
    /// <see cref="LmTrainingConfig.Sft"/>.</summary>
    public static TrainingOutcome Sft(RunTarget target, ConfigLayers<LmTrainingConfig> config, string modelDir, string dataPath,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("sft", target, config, cfg => TrainingJob.For(ModelBundle.Load(modelDir), bundle =>
        {
            cfg.Validate();
            var examples = SftDataset.Load(dataPath, bundle);
            int pad = bundle.Tokenizer.PadId ?? bundle.Tokenizer.EosId ?? 0;
            return LanguageModelJob(bundle, cfg, new SftBatchSource(examples, cfg.BatchSize, cfg.MaxSeqLength, pad, (ulong)cfg.Seed));
        }), observer, cancellation);

    /// <summary>GRPO on a verifiable task, with a held-out greedy accuracy every eval_steps.</summary>
    public static TrainingOutcome Grpo(RunTarget target, ConfigLayers<GrpoConfig> config, string modelDir, IVerifiableTask task,
        ITrainingObserver observer, CancellationToken cancellation = default) =>
        TrainingRun.Run("grpo", target, config, cfg => GrpoJob(cfg, modelDir, task), observer, cancellation);

    /// <summary>
    /// GRPO from the model in <paramref name="modelDir"/>: the task's prompts in the model's chat template, R1's
    /// standard rewards (reward_weights), a frozen copy of the model as reference when beta ≠ 0, and the evaluator's
    /// held-out check when eval_steps is set.
    /// </summary>
    public static TrainingJob GrpoJob(GrpoConfig config, string modelDir, IVerifiableTask task) =>
        TrainingJob.For(ModelBundle.Load(modelDir), bundle =>
        {
            config.Validate();
            var environment = GrpoEnvironment.For(task, bundle, config.RewardWeights);
            var evaluate = config.EvalSteps > 0 ? GrpoTrainer.HeldOutEvaluation(bundle, task, config) : null;
            var reference = config.Beta != 0 ? ModelCheckpoint.Load(modelDir) : null;
            return new TrainingJob(bundle, config.MaxSteps, (run, from, onStep, cancellation) =>
                new GrpoTrainer(bundle.Model, config, environment, reference).Run(run, from, onStep, evaluate, cancellation)) { Owned = [reference] };
        });

    /// <summary>Next-token training of <paramref name="bundle"/>'s model on <paramref name="batches"/> (with a held-out
    /// loss on <paramref name="evalBatches"/> every eval_steps).</summary>
    public static TrainingJob LanguageModelJob(ModelBundle bundle, LmTrainingConfig config, IBatchSource batches,
        IReadOnlyList<TrainingBatch>? evalBatches = null) =>
        new(bundle, config.MaxSteps, (run, from, onStep, cancellation) =>
            new LanguageModelTrainer(bundle.Model, config, batches, evalBatches).Run(run, from, onStep, cancellation))
        {
            Owned = evalBatches ?? [],
        };
}
