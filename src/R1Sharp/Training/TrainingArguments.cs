using System.Text.Json.Serialization;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// The optimizer, schedule, logging and saving options every trainer shares, named as Hugging Face's
/// <c>TrainingArguments</c> (which TRL's <c>GRPOConfig</c> inherits, as <see cref="GrpoConfig"/> does here). Defaults
/// are TRL's GRPO ones; <see cref="LmTrainingConfig"/> sets its own for small models trained from scratch, and each
/// property says both.
/// </summary>
public abstract record TrainingArguments
{
    /// <summary>Peak AdamW learning rate. Default 1e-6 for GRPO (TRL's, sized for billion-parameter models; tiny models
    /// want ~1e-4), 1e-3 for pretraining, 3e-4 for SFT.</summary>
    public double LearningRate { get; init; } = 1e-6;

    /// <summary>Shape after warm-up. Default linear (Hugging Face's) for GRPO, cosine for pretraining and SFT.</summary>
    public LrSchedulerType LrSchedulerType { get; init; } = LrSchedulerType.Linear;

    /// <summary>Steps of linear warm-up from 0 to the peak. Default 0 for GRPO, 50 for pretraining and SFT.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>Floor of the decay as a fraction of the peak (Hugging Face's cosine_with_min_lr <c>min_lr_rate</c>).
    /// Default 0 for GRPO, 0.1 for pretraining and SFT.</summary>
    public double MinLrRate { get; init; }

    /// <summary>Decoupled AdamW weight decay, on matrices only (not norms or biases). Default 0 for GRPO, 0.1 for
    /// pretraining and SFT.</summary>
    public double WeightDecay { get; init; }

    /// <summary>AdamW β1. Default 0.9.</summary>
    public double AdamBeta1 { get; init; } = 0.9;

    /// <summary>AdamW β2. Default 0.999 (Hugging Face's) for GRPO, 0.95 for pretraining and SFT (nanoGPT's).</summary>
    public double AdamBeta2 { get; init; } = 0.999;

    /// <summary>AdamW ε. Default 1e-8.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Global gradient-norm clip; 0 disables. Default 1.0.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Micro-batches whose gradients are summed before one optimizer step. Default 1.</summary>
    public int GradientAccumulationSteps { get; init; } = 1;

    /// <summary>Optimizer steps in the run; the learning-rate schedule spans them. Default 100 for GRPO, 500 for
    /// pretraining, 200 for SFT.</summary>
    public int MaxSteps { get; init; } = 100;

    /// <summary>Stop early after this much training wall-clock; 0 means no limit. Default 0.</summary>
    public double MaxSeconds { get; init; }

    /// <summary>Seed of every random choice (data order, initialisation, sampling). Default 42 (Hugging Face's).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Write sample completions to samples.jsonl every this many steps (GRPO). Default 10.</summary>
    public int LoggingSteps { get; init; } = 10;

    /// <summary>Checkpoint every this many steps; 0 only at the end. Default 50 for GRPO, 100 for pretraining and SFT.</summary>
    public int SaveSteps { get; init; } = 50;

    /// <summary>Checkpoints kept (oldest deleted first). Default 2.</summary>
    public int SaveTotalLimit { get; init; } = 2;

    /// <summary>Where the model trains: cpu, or cuda (cuda:N for the N-th GPU), which needs a TorchSharp CUDA build
    /// (docs/scale-out.md). Default cpu.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>The torch device of <see cref="Device"/>: the one place a trainer's device is chosen. A CUDA device this
    /// build or machine does not have is an error that says how to get one.</summary>
    public TorchSharp.torch.Device TorchDevice()
    {
        if (Device == "cpu") return TorchSharp.torch.CPU;
        if (!cuda.is_available())
            throw new R1Error($"device '{Device}': TorchSharp sees no CUDA device here (R1Sharp builds with TorchSharp-cpu unless built with " +
                "-p:TorchSharpPackage=TorchSharp-cuda-linux, or -windows, on a machine with an NVIDIA driver; see docs/scale-out.md)");
        var device = TorchSharp.torch.device(Device);
        if (device.index >= cuda.device_count())
            throw new R1Error($"device '{Device}': this machine has {cuda.device_count()} CUDA device(s), numbered from 0");
        return device;
    }

    /// <summary>Held-out evaluation every this many steps and at the end; 0 never. Default 0 for GRPO, 100 for
    /// pretraining and SFT.</summary>
    public int EvalSteps { get; init; }

    /// <summary>Matrix products in fp32, bf16 (fp32 master weights, optimizer state, norms, softmax and losses), or auto:
    /// measured at the start of the run on its own shapes, bf16 only where clearly faster (see <see cref="MixedPrecision"/>).
    /// A resumed run keeps the precision it trained in. Default auto.</summary>
    public Precision Precision { get; init; } = Precision.Auto;

    /// <summary>Tokens a forward of one micro-batch multiplies by each weight: the rows auto's measurement uses.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public abstract long RowsPerMicroBatch { get; }

    // --- LoRA (TRL's ModelConfig names, PEFT's meaning) and memory ---

    /// <summary>LoRA rank r: above 0, train a low-rank adapter over the frozen base instead of every weight, and save only
    /// the adapter (PEFT's format). Default 0: full fine-tuning.</summary>
    public int LoraR { get; init; }

    /// <summary>LoRA alpha: the adapter's update is scaled by alpha / r (alpha / √r with use_rslora). Default 32 (TRL's).</summary>
    public double LoraAlpha { get; init; } = 32;

    /// <summary>Dropout on the adapter's input while training. Default 0.05 (TRL's).</summary>
    public double LoraDropout { get; init; } = 0.05;

    /// <summary>The projections LoRA wraps (PEFT's target_modules: "all-linear", a list of names or a regex). Default
    /// all-linear: q/k/v/o and gate/up/down; for deepseek_v3 its MLA projections and every expert's.</summary>
    public LoraTargetModules LoraTargetModules { get; init; } = LoraTargetModules.AllLinear;

    /// <summary>Rank-stabilised LoRA: scale by alpha / √r instead of alpha / r. Default false.</summary>
    public bool UseRslora { get; init; }

    /// <summary>Recompute each decoder layer's activations in backward instead of keeping them: less memory for one more
    /// forward of compute (Hugging Face's gradient_checkpointing). Default false.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>The LoRA adapter these options ask for, or null for full fine-tuning.</summary>
    [JsonIgnore] public LoraSettings? Lora => LoraR > 0 ? new LoraSettings(LoraR, LoraAlpha, LoraDropout, LoraTargetModules, UseRslora) : null;

    /// <summary>
    /// Readies a loaded model for training with these options: gradient checkpointing, and with lora_r above 0 a fresh
    /// adapter (seeded by seed) over the base, whose weights are frozen (no gradients, no optimizer state). Returns the
    /// bundle to train: the same one, or one carrying the active adapter (then train and dispose that one).
    /// </summary>
    public ModelBundle PrepareModel(ModelBundle bundle)
    {
        bundle.Model.GradientCheckpointing = GradientCheckpointing;
        return CreateAdapter(bundle.Model, Path.GetFullPath(bundle.Directory)) is { } adapter ? bundle with { Adapter = adapter } : bundle;
    }

    /// <summary>With lora_r above 0: freezes <paramref name="model"/>'s weights and returns a fresh adapter over it, active
    /// (seeded by seed; <paramref name="baseModel"/> is the base's folder, for adapter_config.json). Else null.</summary>
    public LoraAdapter? CreateAdapter(CausalLanguageModel model, string baseModel)
    {
        if (Lora is not { } lora) return null;
        foreach (var parameter in model.parameters()) parameter.requires_grad = false;
        return LoraAdapter.Create(model, lora, baseModel, Seed).Activate();
    }

    /// <summary>
    /// What the schedule does not fit in a run this short — warm-up longer than the run, evaluation interval longer
    /// than the run — as warnings for the user. The options stay as given (config.json records what ran); a run that
    /// a time budget ends (max_steps int.MaxValue) is not judged.
    /// </summary>
    public IEnumerable<string> ShortRunWarnings()
    {
        if (MaxSteps == int.MaxValue) yield break;
        if (WarmupSteps > MaxSteps)
            yield return $"warmup_steps {WarmupSteps} is longer than the run (max_steps {MaxSteps}): the learning rate reaches only " +
                         $"{100.0 * MaxSteps / WarmupSteps:0}% of learning_rate {LearningRate:G3}; set warmup_steps to at most max_steps in --config";
        if (EvalSteps > MaxSteps)
            yield return $"eval_steps {EvalSteps} is longer than the run (max_steps {MaxSteps}): the held-out evaluation runs only at the end; " +
                         "set eval_steps below max_steps for a curve";
    }

    /// <summary>Throws <see cref="R1Error"/> naming the first shared option whose value cannot work.</summary>
    protected void ValidateTrainingArguments()
    {
        ConfigJson.Require(LoraR >= 0, "lora_r", LoraR, "must be 0 (full fine-tuning) or more");
        ConfigJson.Require(LoraAlpha > 0 && double.IsFinite(LoraAlpha), "lora_alpha", LoraAlpha, "must be above 0");
        ConfigJson.Require(LoraDropout is >= 0 and < 1, "lora_dropout", LoraDropout, "must be in [0, 1)");
        ConfigJson.Require(LearningRate > 0, "learning_rate", LearningRate, "must be above 0");
        ConfigJson.Require(Device == "cpu" || System.Text.RegularExpressions.Regex.IsMatch(Device, @"^cuda(:\d{1,2})?$"), "device", Device,
            "must be cpu, cuda or cuda:N");
        ConfigJson.Require(WarmupSteps >= 0, "warmup_steps", WarmupSteps, "must be 0 or more");
        ConfigJson.Require(MinLrRate is >= 0 and <= 1, "min_lr_rate", MinLrRate, "must be in [0, 1]");
        ConfigJson.Require(WeightDecay >= 0, "weight_decay", WeightDecay, "must be 0 or more");
        ConfigJson.Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", AdamBeta1, "must be in [0, 1)");
        ConfigJson.Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", AdamBeta2, "must be in [0, 1)");
        ConfigJson.Require(AdamEpsilon > 0, "adam_epsilon", AdamEpsilon, "must be above 0");
        ConfigJson.Require(MaxGradNorm >= 0, "max_grad_norm", MaxGradNorm, "must be 0 (off) or more");
        ConfigJson.Require(GradientAccumulationSteps >= 1, "gradient_accumulation_steps", GradientAccumulationSteps, "must be at least 1");
        ConfigJson.Require(MaxSteps >= 1, "max_steps", MaxSteps, "must be at least 1");
        ConfigJson.Require(MaxSeconds >= 0, "max_seconds", MaxSeconds, "must be 0 (no limit) or more");
        ConfigJson.Require(LoggingSteps >= 1, "logging_steps", LoggingSteps, "must be at least 1");
        ConfigJson.Require(SaveSteps >= 0, "save_steps", SaveSteps, "must be 0 or more");
        ConfigJson.Require(SaveTotalLimit >= 1, "save_total_limit", SaveTotalLimit, "must be at least 1");
        ConfigJson.Require(EvalSteps >= 0, "eval_steps", EvalSteps, "must be 0 or more");
    }

    /// <summary>AdamW over the trainable parameters of <paramref name="model"/> (a LoRA adapter's alone when it trains one)
    /// with these options (see <see cref="AdamWSetup"/>).</summary>
    public AdamW CreateOptimizer(nn.Module model) =>
        AdamWSetup.Create(model, LearningRate, WeightDecay, AdamBeta1, AdamBeta2, AdamEpsilon);

    public LearningRateSchedule Schedule() => new(LearningRate, MaxSteps, WarmupSteps, LrSchedulerType, MinLrRate);
}

/// <summary>The learning-rate shape after warm-up (names as Hugging Face's <c>lr_scheduler_type</c>).</summary>
public enum LrSchedulerType
{
    /// <summary>Linear decay from the peak to <c>min_lr_rate</c> × peak at the last step (Hugging Face's default).</summary>
    Linear,
    /// <summary>Half-cosine decay from the peak to <c>min_lr_rate</c> × peak at the last step.</summary>
    Cosine,
    /// <summary>The peak for every step after warm-up.</summary>
    Constant,
}

/// <summary>
/// Linear warm-up to the peak, then linear or cosine decay to <see cref="MinLrRate"/> × peak, or constant.
/// Steps are 0-based optimizer steps. Warm-up gives step s the rate peak × (s + 1) / warmup, so the first step
/// already learns (Hugging Face's schedule gives it 0) and step warmup − 1 reaches the peak; the decay then
/// follows Hugging Face's get_linear / get_cosine_schedule_with_warmup, progress = (s − warmup) / (total − warmup).
/// </summary>
public sealed record LearningRateSchedule(double PeakLearningRate, int TotalSteps, int WarmupSteps = 0,
    LrSchedulerType Type = LrSchedulerType.Linear, double MinLrRate = 0)
{
    /// <summary>The learning rate of 0-based optimizer step <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps)
            return PeakLearningRate * (step + 1) / WarmupSteps;
        var progress = Math.Clamp((step - WarmupSteps) / (double)Math.Max(1, TotalSteps - WarmupSteps), 0, 1);
        var decay = Type switch
        {
            LrSchedulerType.Linear => 1 - progress,
            LrSchedulerType.Cosine => 0.5 * (1 + Math.Cos(Math.PI * progress)),
            LrSchedulerType.Constant => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(Type)),
        };
        return PeakLearningRate * (MinLrRate + (1 - MinLrRate) * decay);
    }

    /// <summary>Sets every parameter group of <paramref name="optimizer"/> to the rate of <paramref name="step"/>; returns it.</summary>
    public double Apply(optim.Optimizer optimizer, int step)
    {
        var lr = At(step);
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = lr;
        return lr;
    }
}

/// <summary>
/// AdamW with weight decay on weight matrices and embeddings only. Decaying the gains of norms or biases pulls
/// them toward 0, which only hurts, so (as nanoGPT) every parameter with fewer than two dimensions is exempt.
/// </summary>
public static class AdamWSetup
{
    public static AdamW Create(nn.Module model, double learningRate, double weightDecay, double beta1 = 0.9,
        double beta2 = 0.999, double epsilon = 1e-8)
    {
        var (decay, noDecay) = SplitForWeightDecay(model);
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay.Select(p => p.Parameter), learningRate, beta1, beta2, epsilon, weightDecay),
            new(noDecay.Select(p => p.Parameter), learningRate, beta1, beta2, epsilon, weight_decay: 0),
        };
        return optim.AdamW(groups, learningRate, beta1, beta2, epsilon, weightDecay);
    }

    /// <summary>Trainable parameters by name: matrices (decayed) and vectors/scalars (not decayed).</summary>
    public static (List<(string Name, Parameter Parameter)> Decay, List<(string Name, Parameter Parameter)> NoDecay)
        SplitForWeightDecay(nn.Module model)
    {
        // Tied weights appear under two names; the optimizer must see each tensor once.
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad)
            .DistinctBy(p => p.parameter.Handle).ToList();
        return (trainable.Where(p => p.parameter.dim() >= 2).Select(p => (p.name, p.parameter)).ToList(),
                trainable.Where(p => p.parameter.dim() < 2).Select(p => (p.name, p.parameter)).ToList());
    }
}

/// <summary>Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales all gradients together so their global L2 norm is at most <paramref name="maxNorm"/> (0 = measure
    /// only) and returns the norm before clipping, the number worth logging: a spike shows an unstable step.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        // An infinite limit makes the clip coefficient 1, so torch only measures.
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        if (withGrad.Count == 0)
            return 0;
        return nn.utils.clip_grad_norm_(withGrad, maxNorm > 0 ? maxNorm : double.PositiveInfinity);
    }
}
