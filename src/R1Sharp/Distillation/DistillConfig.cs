using R1Sharp.Training;

namespace R1Sharp.Distillation;

/// <summary>How the student learns from the teacher.</summary>
public enum DistillMode
{
    /// <summary>Sequence-level: SFT on the teacher's traces (DeepSeek-R1's distillation). Any two tokenizers.</summary>
    Sequence,
    /// <summary>KL to the teacher's top-k next-token distribution on the traces' response tokens; needs a shared tokenizer.</summary>
    Logit,
}

/// <summary>Options of `r1 distill`, as its run's config.json holds them (training options nested under "training").</summary>
public sealed record DistillConfig
{
    /// <summary>sequence (default) or logit.</summary>
    public DistillMode Mode { get; init; } = DistillMode.Sequence;
    /// <summary>Teacher tokens per position that logit distillation matches (renormalised over them). Default 20.</summary>
    public int TopK { get; init; } = 20;
    /// <summary>The optimizer, schedule, batch, checkpoint and held-out (eval_share) options, SFT's by default
    /// (<see cref="LmTrainingConfig.Sft"/>).</summary>
    public LmTrainingConfig Training { get; init; } = LmTrainingConfig.Sft;

    public DistillConfig Validate()
    {
        ConfigJson.Require(TopK >= 1, "top_k", TopK, "must be at least 1");
        Training.Validate();
        return this;
    }
}
