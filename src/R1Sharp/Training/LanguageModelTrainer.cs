using R1Sharp.Model;
using R1Sharp.Runs;
using System.Diagnostics;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Next-token training for `r1 pretrain` and `r1 sft`: AdamW, warm-up + decay, gradient clipping and
/// accumulation, periodic held-out loss, atomic checkpoints that a killed run resumes from exactly.
/// </summary>
/// <param name="objective">
/// The training loss from the model's logits [B, T, V] and the batch; null is next-token cross-entropy. Logit
/// distillation passes its KL to a teacher here and keeps everything else (the held-out loss stays cross-entropy).
/// </param>
/// <param name="adapter">A LoRA adapter over the frozen <paramref name="model"/>: then only it is trained and checkpointed.</param>
public sealed class LanguageModelTrainer(CausalLanguageModel model, LmTrainingConfig config, IBatchSource train,
    IReadOnlyList<TrainingBatch>? evalBatches = null, Func<Tensor, TrainingBatch, Tensor>? objective = null, LoraAdapter? adapter = null)
{
    /// <summary>What the optimizer updates: the adapter, or the whole model.</summary>
    TorchSharp.torch.nn.Module Trained => adapter is null ? model : adapter;

    /// <summary>Trains until max_steps (or max_seconds); returns the last step's metrics.</summary>
    public IReadOnlyDictionary<string, double> Run(RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null, CancellationToken cancellation = default)
    {
        config.Validate();
        adapter?.Activate();
        using var optimizer = config.CreateOptimizer(Trained);
        var loop = new TrainingLoop(config, run, model, optimizer, adapter);
        var resumed = loop.Resume(resumeFrom);
        if (resumeFrom is not null)
            train.Seek(resumed.Data ?? throw new R1Error($"{resumeFrom.Path}: the checkpoint has no data position"));
        long tokensSeen = resumed.TokensSeen ?? 0;
        return loop.Run((_, lr) =>
            {
                var (metrics, tokens) = Step(optimizer, lr, loop.Precision);
                tokensSeen += tokens;
                metrics[MetricNames.TokensSeen] = tokensSeen;
                return metrics;
            },
            state => state with { TokensSeen = tokensSeen, Data = train.Position },
            evalBatches is { Count: > 0 } ? () => new Dictionary<string, double> { [MetricNames.EvalLoss] = EvalLoss(evalBatches) } : null,
            onStep, cancellation);
    }

    /// <summary>One optimizer step over gradient_accumulation_steps micro-batches: its metrics and input tokens.</summary>
    (Dictionary<string, double> Metrics, long Tokens) Step(TorchSharp.Modules.AdamW optimizer, double lr, PrecisionChoice precision)
    {
        var clock = Stopwatch.StartNew();
        model.train();
        double loss = 0;
        long tokens = 0;
        for (int micro = 0; micro < config.GradientAccumulationSteps; micro++)
        {
            using var scope = NewDisposeScope();
            using var batch = train.Next(model.Device);
            Tensor microLoss;
            using (precision.Autocast(model.Device))
            {
                var logits = model.Forward(batch.Inputs, batch.AttentionMask);
                microLoss = (objective is null ? LanguageModelLoss.Compute(logits, batch.Targets) : objective(logits, batch))
                            / config.GradientAccumulationSteps;
            }
            microLoss.backward();
            ComputeMeter.Current?.Trained(model, batch.Inputs, batch.AttentionMask);
            loss += microLoss.item<float>();
            tokens += batch.Inputs.NumberOfElements;
        }
        double gradNorm = GradientClipping.ClipGlobalNorm(Trained.parameters(), config.MaxGradNorm);
        optimizer.step();
        optimizer.zero_grad();
        if (adapter is null) model.UpdateRoutingBias(config.RouterBiasUpdateSpeed); // a frozen base keeps its routing bias too
        return (new Dictionary<string, double>
        {
            [MetricNames.Loss] = loss,
            [MetricNames.LearningRate] = lr,
            [MetricNames.GradNorm] = gradNorm,
            [MetricNames.TrainTokensPerSecond] = tokens / clock.Elapsed.TotalSeconds,
        }, tokens);
    }

    /// <summary>Mean next-token loss of the model on fixed held-out batches.</summary>
    public double EvalLoss(IReadOnlyList<TrainingBatch> batches)
    {
        model.eval();
        using var _ = inference_mode();
        double total = 0;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            total += LanguageModelLoss.Compute(model.Forward(batch.Inputs, batch.AttentionMask), batch.Targets).item<float>();
            ComputeMeter.Current?.Forwarded(model, batch.Inputs, batch.AttentionMask);
        }
        return total / batches.Count;
    }
}

/// <summary>Where a trainer's batches come from; its position is saved in checkpoints so a resumed run reads on.</summary>
public interface IBatchSource
{
    TrainingBatch Next(Device device);
    DataPosition Position { get; }
    void Seek(DataPosition position);
}

/// <summary>A batch source's position: epoch and offset of a packed token stream, or the state of SFT's shuffled sampler.</summary>
public sealed record DataPosition
{
    public int? Epoch { get; init; }
    public long? Offset { get; init; }
    public RngState? Sampler { get; init; }
}

/// <summary>Inputs [B, T] and shifted targets [B, T] (IgnoreIndex where no loss); a mask when rows are padded.</summary>
public sealed record TrainingBatch(Tensor Inputs, Tensor Targets, Tensor? AttentionMask) : IDisposable
{
    /// <summary>Tokens that carry loss.</summary>
    public long LossTokens => (Targets != LanguageModelLoss.IgnoreIndex).sum().item<long>();

    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        AttentionMask?.Dispose();
    }
}

/// <summary>Next-token cross-entropy, ignoring positions whose target is <see cref="IgnoreIndex"/>.</summary>
public static class LanguageModelLoss
{
    /// <summary>Targets with this value (prompt tokens in SFT, padding) add nothing to the loss.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>logits [B, T, V], targets [B, T] (already shifted: target t is the token after input t). The log-softmax
    /// runs in fp32 whatever the logits' precision.</summary>
    public static Tensor Compute(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(float32), targets.reshape(-1), ignore_index: IgnoreIndex);
}
