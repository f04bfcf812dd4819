namespace R1Sharp.Training;

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
