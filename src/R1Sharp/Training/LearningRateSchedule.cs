using TorchSharp;

namespace R1Sharp.Training;

/// <summary>
/// Linear warm-up to the peak, then linear or cosine decay to <see cref="MinLrRate"/> × peak, or constant.
/// Steps are 0-based optimizer steps. Warm-up gives step s the rate peak × (s + 1) / warmup, so the first step
/// already learns (Hugging Face's schedule gives it 0) and step warmup − 1 reaches the peak; the decay then
/// follows Hugging Face's get_linear / get_cosine_schedule_with_warmup, progress = (s − warmup) / (total − warmup).
/// </summary>
public sealed record LearningRateSchedule(double PeakLearningRate, int TotalSteps, int WarmupSteps = 0,
    LrSchedulerType Type = LrSchedulerType.Linear, double MinLrRate = 0)
{
    public static LearningRateSchedule From(GrpoConfig config) =>
        new(config.LearningRate, config.MaxSteps, config.WarmupSteps, config.LrSchedulerType, config.MinLrRate);

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
    public double Apply(torch.optim.Optimizer optimizer, int step)
    {
        var lr = At(step);
        foreach (var group in optimizer.ParamGroups)
            group.LearningRate = lr;
        return lr;
    }
}
