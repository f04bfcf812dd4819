namespace R1Sharp.Tasks.Datasets;

public sealed record DatasetOptions
{
    /// <summary>Layout of the records. Default Auto (from the first record's fields).</summary>
    public DatasetLayout Layout { get; init; } = DatasetLayout.Auto;

    /// <summary>
    /// Appended (on a new line) to GSM8K and MATH questions. Default: DeepSeek-R1's evaluation instruction.
    /// Generic prompts are used as they are.
    /// </summary>
    public string Instruction { get; init; } = "Please reason step by step, and put your final answer within \\boxed{}.";
}
