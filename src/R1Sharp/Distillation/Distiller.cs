using System.Security.Cryptography;
using R1Sharp.Checkpoints;
using R1Sharp.Runs;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Distillation;

/// <summary>
/// `r1 distill`: teaches a student from a teacher's traces. Sequence mode is SFT on the traces (the same trainer and
/// data code as `r1 sft`); logit mode swaps the loss for <see cref="LogitDistillationLoss"/> against the teacher's
/// logits, computed on the fly for each batch. A share of the prompts is held out: eval_loss is the student's
/// cross-entropy on teacher traces it never trained on.
/// </summary>
public sealed class Distiller(ModelBundle teacher, ModelBundle student, DistillConfig config)
{
    /// <summary>Trains the student; returns the last step's metrics. Checkpoints and resume as every training command.</summary>
    public IReadOnlyDictionary<string, double> Run(string tracesPath, RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null, CancellationToken cancellation = default)
    {
        config.Validate();
        if (config.Mode == DistillMode.Logit) RequireSharedTokenizer(teacher, student);
        var (train, heldOut) = Split(SftDataset.Load(tracesPath, student), config.HeldOutShare);
        var lm = config.Training;
        int pad = student.Tokenizer.PadId ?? student.Tokenizer.EosId ?? 0;
        var source = new SftBatchSource(train, lm.BatchSize, lm.MaxSeqLength, pad, (ulong)lm.Seed);
        var evalBatches = heldOut.Chunk(lm.BatchSize).Take(lm.EvalBatches)
            .Select(chunk => SftExample.Collate(chunk, lm.MaxSeqLength, pad, student.Model.Device)).ToList();
        try
        {
            var objective = config.Mode == DistillMode.Logit ? LogitObjective() : null;
            return new LanguageModelTrainer(student.Model, lm, source, evalBatches, objective).Run(run, resumeFrom, onStep, cancellation);
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
            return LogitDistillationLoss.Compute(logits, teacherLogits, batch.Targets.ne(LanguageModelLoss.IgnoreIndex), config.TopK, shared);
        };
    }

    /// <summary>
    /// Splits examples into training and held-out by prompt (all traces of a prompt on one side), choosing held-out
    /// prompts by a hash of their tokens, so the split does not depend on the file's order.
    /// </summary>
    public static (List<SftExample> Train, List<SftExample> HeldOut) Split(IReadOnlyList<SftExample> examples, double heldOutShare)
    {
        bool HeldOut(SftExample e)
        {
            var bytes = new byte[e.Prompt.Length * sizeof(int)];
            Buffer.BlockCopy(e.Prompt, 0, bytes, 0, bytes.Length);
            return BitConverter.ToUInt64(SHA256.HashData(bytes), 0) / 18446744073709551616.0 < heldOutShare;
        }
        var train = examples.Where(e => !HeldOut(e)).ToList();
        var heldOut = examples.Where(HeldOut).ToList();
        if (train.Count == 0) throw new R1Error($"all {examples.Count} traces fell in the held-out share {heldOutShare}; lower held_out_share");
        return (train, heldOut);
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
