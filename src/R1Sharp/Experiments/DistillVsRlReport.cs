using System.Text;
using System.Text.Json;
using R1Sharp.Quickstart;
using R1Sharp.Training;

namespace R1Sharp.Experiments;

/// <summary>One model of the comparison: what it is, its size, its scores, and what its training cost.</summary>
/// <param name="StageSeconds">Wall-clock of the row's own stage: pretraining for a base, GRPO, or sampling + distillation.</param>
/// <param name="TotalSeconds">Everything that went into the model, its base's pretraining included (not the teacher's for distilled rows).</param>
/// <param name="Steps">Optimizer steps of the row's own stage.</param>
public sealed record ExperimentRow(string Model, string Description, long Parameters, SplitScores Heldout, SplitScores Harder,
    double StageSeconds, double TotalSeconds, int Steps);

/// <summary>experiment.json of `r1 experiment distill-vs-rl`, and its table in the shape of DeepSeek-R1's Table 6.</summary>
public sealed record DistillVsRlReport : ProtocolReport
{
    public required IReadOnlyList<ExperimentRow> Rows { get; init; }
    public required double BudgetSeconds { get; init; }
    public required double SamplingSeconds { get; init; }
    public required double SamplingAcceptanceRate { get; init; }
    public required int Traces { get; init; }
    public required string TeacherRun { get; init; }
    public required DistillVsRlConfig Config { get; init; }
    public required QuickstartConfig QuickstartConfig { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Report);

    public static DistillVsRlReport Load(string path) => ConfigJson.Deserialize<DistillVsRlReport>(File.ReadAllText(path), path, SnakeCase.Report);

    public ExperimentRow Row(string model) => Rows.First(r => r.Model == model);

    /// <summary>What the measurement says about distillation against RL at the same budget, in numbers.</summary>
    public string Verdict()
    {
        var rl = Row(DistillVsRlExperiment.StudentRl);
        var distilled = Row(DistillVsRlExperiment.StudentDistilled);
        double heldout = distilled.Heldout.Pass1 - rl.Heldout.Pass1, harder = distilled.Harder.Pass1 - rl.Harder.Pass1;
        string Points(double d) => (d >= 0 ? "+" : "") + P(d);
        // Half an eval sample's worth of difference counts as a tie.
        int Sign(double d) => Math.Abs(d) < 5e-4 ? 0 : Math.Sign(d);
        int a = Sign(heldout), b = Sign(harder);
        string outcome = (a, b) switch
        {
            (0, 0) => "Distillation and RL tied on both splits",
            _ when a >= 0 && b >= 0 => "Distillation beat RL" + (a == 0 ? " on the harder split (tied held-out)" : b == 0 ? " on held-out (tied on the harder split)" : " on both splits"),
            _ when a <= 0 && b <= 0 => "RL beat distillation" + (a == 0 ? " on the harder split (tied held-out)" : b == 0 ? " on held-out (tied on the harder split)" : " on both splits"),
            _ => "Distillation and RL split the result",
        };
        return $"{outcome} at the same wall-clock: pass@1 {Points(heldout)} points held-out, {Points(harder)} points harder " +
               $"(distilled minus GRPO student).";
    }

    public string ToMarkdown()
    {
        int k = SamplesPerPrompt;
        var md = new StringBuilder();
        md.AppendLine("# Distillation vs RL for a small model");
        md.AppendLine();
        md.AppendLine($"{Protocol} (pass@1 = mean correctness over the k samples; cons@k = majority vote). `harder` has one digit more than training. " +
                      $"Student GRPO and student distillation each had a budget of {N(BudgetSeconds)} s of wall-clock; distillation's includes " +
                      $"sampling the teacher ({N(SamplingSeconds)} s, {P(SamplingAcceptanceRate)}% of samples accepted, {Traces} traces).");
        md.AppendLine();
        md.AppendLine($"| model | parameters | held-out pass@1 | held-out cons@{k} | harder pass@1 | harder cons@{k} | mean response tokens | stage wall-clock s | total wall-clock s | steps |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
            md.AppendLine($"| {r.Model} | {r.Parameters:N0} | {P(r.Heldout.Pass1)} | {P(r.Heldout.ConsAtK)} | {P(r.Harder.Pass1)} | {P(r.Harder.ConsAtK)} | " +
                          $"{N(r.Heldout.MeanResponseTokens)} | {N(r.StageSeconds)} | {N(r.TotalSeconds)} | {r.Steps} |");
        md.AppendLine();
        foreach (var r in Rows) md.AppendLine($"- **{r.Model}**: {r.Description}");
        md.AppendLine();
        md.AppendLine(Verdict());
        md.AppendLine();
        md.AppendLine($"Mean response tokens are on the held-out split. {Timing}");
        return md.ToString();
    }
}
