using R1Sharp.Checkpoints;
using R1Sharp.Runs;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Distillation;

/// <summary>
/// `r1 distill`: teaches a student from a teacher's traces. Sequence mode is SFT on the traces (the same trainer and
/// data code as `r1 sft`); logit mode swaps the loss for <see cref="LogitDistillationLoss"/> against the teacher's
/// logits, computed on the fly for each batch. As in SFT, eval_share of the prompts is held out (<see cref="HeldOutData"/>):
/// eval_loss is the student's cross-entropy on teacher traces it never trained on.
/// </summary>
public sealed class Distiller
{
    readonly ModelBundle teacher, student;
    readonly DistillConfig config;
    readonly List<SftExample> train, heldOut;

    /// <summary>Reads and checks the traces (and, for logit mode, that the two models share a tokenizer).</summary>
    public Distiller(ModelBundle teacher, ModelBundle student, DistillConfig config, string tracesPath)
    {
        (this.teacher, this.student, this.config) = (teacher, student, config.Validate());
        if (config.Mode == DistillMode.Logit) RequireSharedTokenizer(teacher, student);
        (train, heldOut) = HeldOutData.Split(SftDataset.Load(tracesPath, student), config.Training.HeldOutShare(), e => e.Prompt);
    }

    /// <summary>
    /// `r1 distill`'s recipe run through <see cref="TrainingRun"/>: the student — a model folder, or a fresh
    /// <paramref name="studentPreset"/> of the teacher's family (seeded by the training seed) — trained on the traces.
    /// </summary>
    public static TrainingOutcome Train(RunTarget target, ConfigLayers<DistillConfig> config, string teacherDir, string? studentDir,
        string? studentPreset, string tracesPath, ITrainingObserver observer, CancellationToken cancellation = default)
    {
        if ((studentDir is null) == (studentPreset is null)) throw new R1Error("give exactly one of --student and --student-preset");
        return TrainingRun.Run("distill", target, config, cfg => TrainingJob.For(ModelBundle.Load(teacherDir), teacher =>
        {
            // An adapter names its base model folder, so a fresh student would have to be saved first.
            if (studentPreset is not null && cfg.Training.LoraR > 0)
                throw new R1Error("LoRA needs a student model folder (--student DIR) for its adapter to adapt; --student-preset builds a fresh one: train all of it, or save it first");
            var student = studentPreset is not null ? StudentShapes.Build(teacher, studentPreset, cfg.Training.Seed) : ModelBundle.Load(studentDir!);
            return Job(teacher, student, cfg, tracesPath) with { Owned = [teacher] };
        }), observer, cancellation);
    }

    /// <summary>Distillation of <paramref name="teacher"/> into <paramref name="student"/> as a training job (the student, or a
    /// LoRA adapter over it when lora_r is set, is the job's model).</summary>
    public static TrainingJob Job(ModelBundle teacher, ModelBundle student, DistillConfig config, string tracesPath) =>
        TrainingJob.For(student, _ =>
        {
            var trained = config.Training.PrepareModel(student);
            var distiller = new Distiller(teacher, trained, config, tracesPath);
            return new TrainingJob(trained, config.Training, (run, from, onStep, cancellation) => distiller.Run(run, from, onStep, cancellation));
        });

    /// <summary>Trains the student; returns the last step's metrics. Checkpoints and resume as every training command.</summary>
    public IReadOnlyDictionary<string, double> Run(RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null, CancellationToken cancellation = default)
    {
        var lm = config.Training;
        int pad = student.Tokenizer.PadId ?? student.Tokenizer.EosId ?? 0;
        var source = new SftBatchSource(train, lm.BatchSize, lm.MaxSeqLength, pad, (ulong)lm.Seed);
        var evalBatches = HeldOutData.SftBatches(heldOut, lm.BatchSize, lm.MaxSeqLength, pad, lm.EvalBatches, student.Model.Device);
        try
        {
            var objective = config.Mode == DistillMode.Logit ? LogitObjective() : null;
            return new LanguageModelTrainer(student.Model, lm, source, evalBatches, objective, student.Adapter).Run(run, resumeFrom, onStep, cancellation);
        }
        finally
        {
            foreach (var batch in evalBatches) batch.Dispose();
        }
    }

    Func<Tensor, TrainingBatch, Tensor> LogitObjective()
    {
        int shared = student.Tokenizer.VocabSize;
        teacher.Model.eval();
        return (logits, batch) =>
        {
            Tensor teacherLogits;
            using (no_grad()) teacherLogits = teacher.Model.Forward(batch.Inputs, batch.AttentionMask);
            ComputeMeter.Current?.Forwarded(teacher.Model, batch.Inputs, batch.AttentionMask);
            return LogitDistillationLoss.Compute(logits, teacherLogits, batch.Targets.ne(LanguageModelLoss.IgnoreIndex), config.TopK, shared);
        };
    }

    /// <summary>
    /// Logit distillation compares distributions id by id, so both models must read and write the same tokens: the
    /// same tokenizer (vocabulary, merges, added tokens) and the same chat template. Throws naming the first difference.
    /// </summary>
    public static void RequireSharedTokenizer(ModelBundle teacher, ModelBundle student)
    {
        string? difference = TokenizerDifference(teacher.Tokenizer.Definition, student.Tokenizer.Definition);
        var probe = new List<ChatMessage> { new("user", "1+1?") };
        if (difference is null && teacher.Template.Render(probe, addGenerationPrompt: true) != student.Template.Render(probe, addGenerationPrompt: true))
            difference = "their chat templates render prompts differently";
        if (difference is null && Math.Min(teacher.Model.Config.VocabSize, student.Model.Config.VocabSize) < student.Tokenizer.VocabSize)
            difference = $"a vocab_size ({teacher.Model.Config.VocabSize} vs {student.Model.Config.VocabSize}) is below the tokenizer's {student.Tokenizer.VocabSize} ids";
        if (difference is not null)
            throw new R1Error($"logit distillation needs teacher and student to share a tokenizer, but teacher {teacher.Directory} and " +
                              $"student {student.Directory} differ: {difference}. Use --mode sequence (SFT on the traces) instead.");
    }

    static string? TokenizerDifference(TokenizerJson a, TokenizerJson b)
    {
        if (a.Vocab.Count != b.Vocab.Count) return $"vocabularies of {a.Vocab.Count} and {b.Vocab.Count} tokens";
        foreach (var (token, id) in a.Vocab)
            if (!b.Vocab.TryGetValue(token, out int other) || other != id)
                return $"token '{token}' is id {id} in the teacher's and {(b.Vocab.ContainsKey(token) ? other.ToString() : "absent")} in the student's";
        if (!a.Merges.SequenceEqual(b.Merges)) return "their BPE merges differ";
        var addedA = a.AddedTokens.Select(t => (t.Id, t.Content)).ToList();
        var addedB = b.AddedTokens.Select(t => (t.Id, t.Content)).ToList();
        if (!addedA.SequenceEqual(addedB)) return "their added (special) tokens differ";
        if (!a.SplitPatterns.SequenceEqual(b.SplitPatterns) || a.NfcNormalizer != b.NfcNormalizer) return "their pre-tokenizers or normalizers differ";
        return null;
    }
}
