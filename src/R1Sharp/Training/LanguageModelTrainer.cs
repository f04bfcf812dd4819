using System.Diagnostics;
using System.Text.Json.Nodes;
using R1Sharp.Model;
using R1Sharp.Runs;
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
public sealed class LanguageModelTrainer(CausalLanguageModel model, LmTrainingConfig config, IBatchSource train,
    IReadOnlyList<TrainingBatch>? evalBatches = null, Func<Tensor, TrainingBatch, Tensor>? objective = null)
{
    /// <summary>Trains until max_steps (or max_seconds); returns the last step's metrics.</summary>
    public IReadOnlyDictionary<string, double> Run(RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null, CancellationToken cancellation = default)
    {
        config.Validate();
        using var optimizer = AdamWSetup.Create(model, config.LearningRate, config.WeightDecay, config.AdamBeta1,
            config.AdamBeta2, config.AdamEpsilon);
        var schedule = new LearningRateSchedule(config.LearningRate, config.MaxSteps, config.WarmupSteps,
            config.LrSchedulerType, config.MinLrRate);
        int step = 0;
        double elapsed = 0;
        long tokensSeen = 0;
        if (resumeFrom is not null)
        {
            var state = TrainerState.Load(resumeFrom.Path, model, optimizer);
            step = state["step"]!.GetValue<int>();
            elapsed = state["elapsed_seconds"]!.GetValue<double>();
            tokensSeen = state["tokens_seen"]!.GetValue<long>();
            train.RestoreState(state["data"]!.AsObject());
        }

        var metrics = new Dictionary<string, double>();
        while (step < config.MaxSteps && (config.MaxSeconds == 0 || elapsed < config.MaxSeconds))
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            model.train();
            double lr = schedule.Apply(optimizer, step);
            double loss = 0;
            long tokens = 0;
            for (int micro = 0; micro < config.GradientAccumulationSteps; micro++)
            {
                using var scope = NewDisposeScope();
                using var batch = train.Next(model.Device);
                var logits = model.Forward(batch.Inputs, batch.AttentionMask);
                var microLoss = (objective is null ? LanguageModelLoss.Compute(logits, batch.Targets) : objective(logits, batch))
                                / config.GradientAccumulationSteps;
                microLoss.backward();
                loss += microLoss.item<float>();
                tokens += batch.Inputs.NumberOfElements;
            }
            double gradNorm = GradientClipping.ClipGlobalNorm(model.parameters(), config.MaxGradNorm);
            optimizer.step();
            optimizer.zero_grad();
            model.UpdateRoutingBias(config.RouterBiasUpdateSpeed);
            step++;
            tokensSeen += tokens;
            double seconds = clock.Elapsed.TotalSeconds;
            elapsed += seconds;

            metrics = new Dictionary<string, double>
            {
                ["loss"] = loss,
                [MetricNames.LearningRate] = lr,
                [MetricNames.GradNorm] = gradNorm,
                ["tokens_seen"] = tokensSeen,
                [MetricNames.TrainTokensPerSecond] = tokens / seconds,
                [MetricNames.StepTime] = seconds,
            };
            bool last = step == config.MaxSteps || (config.MaxSeconds > 0 && elapsed >= config.MaxSeconds);
            if (evalBatches is { Count: > 0 } && config.EvalSteps > 0 && (step % config.EvalSteps == 0 || last))
                metrics["eval_loss"] = EvalLoss(evalBatches);
            run.LogMetrics(step, metrics);
            onStep?.Invoke(step, metrics);

            if (last || (config.SaveSteps > 0 && step % config.SaveSteps == 0))
            {
                var state = new JsonObject
                {
                    ["step"] = step, ["elapsed_seconds"] = elapsed, ["tokens_seen"] = tokensSeen, ["data"] = train.SaveState(),
                };
                run.SaveCheckpoint(step, dir => TrainerState.Save(dir, model, optimizer, state), config.SaveTotalLimit);
            }
        }
        return metrics;
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
        }
        return total / batches.Count;
    }
}
