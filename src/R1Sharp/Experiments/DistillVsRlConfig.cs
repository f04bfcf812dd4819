using R1Sharp.Distillation;
using R1Sharp.Training;

namespace R1Sharp.Experiments;

/// <summary>
/// Knobs of `r1 experiment distill-vs-rl`. The quickstart's own settings (task, corpus, pretraining, GRPO, evaluation)
/// come from the teacher's run; these say how small the student is and how the shared wall-clock budget is spent.
/// </summary>
public sealed record DistillVsRlConfig
{
    /// <summary>Wall-clock seconds the student gets for GRPO, and for distillation including the teacher's sampling. Default 180.</summary>
    public double BudgetSeconds { get; init; } = 180;
    /// <summary>Student shape relative to the teacher (see StudentShapes): half = half the layers, width and MLP. Default half.</summary>
    public string StudentShape { get; init; } = "half";

    // Rejection sampling from the teacher (training-side prompts only).
    /// <summary>Training-side prompts the teacher answers. Default 3000.</summary>
    public int SamplePrompts { get; init; } = 3000;
    /// <summary>
    /// Samples per prompt. Default 1: a right column addition is one text, so more samples of a prompt are mostly
    /// duplicates (dropped) that cost budget; more prompts buy more distinct traces.
    /// </summary>
    public int SamplesPerPrompt { get; init; } = 1;
    public double SampleTemperature { get; init; } = 1.0;
    public double SampleTopP { get; init; } = 1.0;
    /// <summary>correct (rejection sampling proper, the default) or all (the tiny smoke run's teacher is never right).</summary>
    public TraceKeep Keep { get; init; } = TraceKeep.Correct;
    /// <summary>Keep only the shortest accepted trace per prompt. Default false (every distinct accepted trace).</summary>
    public bool Shortest { get; init; }

    // Distillation (SFT on the traces; logit distillation as an extra row).
    public double DistillLearningRate { get; init; } = 1e-3;
    public int DistillBatchSize { get; init; } = 32;
    /// <summary>Also distil with KL to the teacher's top-k logits, as one more row with the same budget. Default true.</summary>
    public bool LogitRow { get; init; } = true;
    public int TopK { get; init; } = 20;

    public DistillVsRlConfig Validate()
    {
        ConfigJson.Require(BudgetSeconds > 0, "budget_seconds", BudgetSeconds, "must be above 0");
        ConfigJson.Require(SamplePrompts >= 1, "sample_prompts", SamplePrompts, "must be at least 1");
        ConfigJson.Require(SamplesPerPrompt >= 1, "samples_per_prompt", SamplesPerPrompt, "must be at least 1");
        return this;
    }

    /// <summary>Seconds-long settings for tests (with a tiny quickstart teacher).</summary>
    public static DistillVsRlConfig Tiny => new() { BudgetSeconds = 3, SamplePrompts = 8, SamplesPerPrompt = 2, Keep = TraceKeep.All, DistillBatchSize = 4 };
}
