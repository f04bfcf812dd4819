namespace R1Sharp.Training;

/// <summary>
/// Options of `r1 pretrain` and `r1 sft` (next-token loss), and of distillation's training. The shared
/// <see cref="TrainingArguments"/> default here to what suits the small CPU models R1Sharp trains from scratch
/// (nanoGPT-like: learning rate 1e-3, cosine decay to 0.1 × peak after 50 warm-up steps, β2 0.95, weight decay 0.1),
/// not billion-parameter ones; <see cref="Sft"/> holds SFT's.
/// </summary>
public sealed record LmTrainingConfig : TrainingArguments
{
    public LmTrainingConfig()
    {
        LearningRate = 1e-3;
        LrSchedulerType = LrSchedulerType.Cosine;
        WarmupSteps = 50;
        MinLrRate = 0.1;
        WeightDecay = 0.1;
        AdamBeta2 = 0.95;
        MaxSteps = 500;
        SaveSteps = 100;
        EvalSteps = 100;
    }

    /// <summary>SFT's defaults: a gentler learning rate (3e-4) for 200 steps; the rest as pretraining.</summary>
    public static LmTrainingConfig Sft => new() { LearningRate = 3e-4, MaxSteps = 200 };

    /// <summary>Sequences per micro-batch. Default 32.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Tokens per packed sequence (pretraining) or most tokens per example (SFT). Default 256.</summary>
    public int MaxSeqLength { get; init; } = 256;

    /// <summary>Batches of held-out data per evaluation. Default 4.</summary>
    public int EvalBatches { get; init; } = 4;

    /// <summary>Share of the data held out of training for eval_loss, when eval_steps is set (chosen as
    /// <see cref="HeldOutData"/> says); 0 trains on everything and logs no eval_loss. Default 0.05.</summary>
    public double EvalShare { get; init; } = 0.05;

    /// <summary>The share actually held out: none when no evaluation will use it.</summary>
    public double HeldOutShare() => EvalSteps > 0 ? EvalShare : 0;

    /// <summary>γ of DeepSeek-V3's auxiliary-loss-free MoE balancing (0.001 in V3's pretraining); no effect on dense models.</summary>
    public double RouterBiasUpdateSpeed { get; init; } = 0.001;

    [System.Text.Json.Serialization.JsonIgnore] public override long RowsPerMicroBatch => (long)BatchSize * MaxSeqLength;

    public LmTrainingConfig Validate()
    {
        ConfigJson.Require(BatchSize >= 1, "batch_size", BatchSize, "must be at least 1");
        ConfigJson.Require(MaxSeqLength >= 2, "max_seq_length", MaxSeqLength, "must be at least 2");
        ConfigJson.Require(EvalBatches >= 1, "eval_batches", EvalBatches, "must be at least 1");
        ConfigJson.Require(EvalShare is >= 0 and < 1, "eval_share", EvalShare, "must be in [0, 1)");
        ValidateTrainingArguments();
        return this;
    }
}
