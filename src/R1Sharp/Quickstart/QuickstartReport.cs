using System.Globalization;
using System.Text;
using System.Text.Json;
using R1Sharp.Evaluation;
using R1Sharp.Training;

namespace R1Sharp.Quickstart;

/// <summary>One model on one split, by R1's protocol (pass@1 = mean correctness over k samples).</summary>
public sealed record SplitScores(double Pass1, double ConsAtK, double MeanResponseTokens, double PassAtK, double? GreedyAccuracy, double ThinkingShare)
{
    public static SplitScores From(EvalResult result)
    {
        var r = result.Report;
        var sampled = result.Samples.Where(s => s.Sample != ScoredSample.GreedySample).ToList();
        // A sample "thinks" when it writes work before closing the think block the template opened.
        double thinking = sampled.Count == 0 ? 0 : sampled.Count(s => !s.Completion.StartsWith(Tokenizers.ChatTokens.ThinkEnd)) / (double)sampled.Count;
        return new SplitScores(r.PassAt1, r.ConsAtK, r.MeanResponseTokens, r.PassAtK[r.PassAtK.Keys.Max()], r.GreedyAccuracy, thinking);
    }
}

/// <summary>A model's scores on the held-out split and on the harder split.</summary>
public sealed record ModelScores(SplitScores Heldout, SplitScores Harder, double TrainSeconds);

/// <summary>report.json of `r1 quickstart`: base, rl and (with --control) control, each on heldout and harder.</summary>
public sealed record QuickstartReport
{
    public required ModelScores Base { get; init; }
    public required ModelScores Rl { get; init; }
    public ModelScores? Control { get; init; }
    public required int SamplesPerPrompt { get; init; }
    public required int EvalPrompts { get; init; }
    public required double Temperature { get; init; }
    public required double TopP { get; init; }
    public required double TotalSeconds { get; init; }
    public required IReadOnlyDictionary<string, double> StageSeconds { get; init; }
    public required string Machine { get; init; }
    public required QuickstartConfig Config { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Report);

    public static QuickstartReport Load(string path) =>
        JsonSerializer.Deserialize<QuickstartReport>(File.ReadAllText(path), SnakeCase.Report) ?? throw new R1Error($"{path}: empty report");

    public string ToMarkdown(IEnumerable<string> plots)
    {
        static string P(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture);
        static string N(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        var md = new StringBuilder();
        md.AppendLine("# R1-Zero quickstart");
        md.AppendLine();
        md.AppendLine($"Addition, {EvalPrompts} prompts per split, k = {SamplesPerPrompt} samples at temperature {Temperature}, top-p {TopP} " +
                      "(pass@1 = mean correctness over the k samples, as DeepSeek-R1 reports it). " +
                      "`harder` has one digit more than the RL prompts.");
        md.AppendLine();
        md.AppendLine($"| model | training s | held-out pass@1 | held-out cons@{SamplesPerPrompt} | held-out pass@{SamplesPerPrompt} | held-out tokens | thinks | harder pass@1 | harder cons@{SamplesPerPrompt} | harder tokens |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        void Row(string name, ModelScores m) => md.AppendLine(
            $"| {name} | {N(m.TrainSeconds)} | {P(m.Heldout.Pass1)} | {P(m.Heldout.ConsAtK)} | {P(m.Heldout.PassAtK)} | {N(m.Heldout.MeanResponseTokens)} | " +
            $"{P(m.Heldout.ThinkingShare)} | {P(m.Harder.Pass1)} | {P(m.Harder.ConsAtK)} | {N(m.Harder.MeanResponseTokens)} |");
        Row("base (pretrained)", Base);
        Row("rl (base + GRPO)", Rl);
        if (Control is not null) Row("control (base + more pretraining, same wall-clock as RL)", Control);
        md.AppendLine();
        md.AppendLine($"Held-out pass@1 went from {P(Base.Heldout.Pass1)}% to {P(Rl.Heldout.Pass1)}% " +
                      $"({(Rl.Heldout.Pass1 - Base.Heldout.Pass1 >= 0 ? "+" : "")}{P(Rl.Heldout.Pass1 - Base.Heldout.Pass1)} points); " +
                      $"harder from {P(Base.Harder.Pass1)}% to {P(Rl.Harder.Pass1)}%. " +
                      $"\"thinks\" is the share of samples that write worked columns before closing &lt;think&gt;.");
        md.AppendLine();
        md.AppendLine($"Total {N(TotalSeconds)} s on {Machine}. Stages: " +
                      string.Join(", ", StageSeconds.Select(kv => $"{kv.Key} {N(kv.Value)} s")) + ".");
        md.AppendLine();
        foreach (var plot in plots) md.AppendLine($"![{Path.GetFileNameWithoutExtension(plot)}]({plot})");
        return md.ToString();
    }
}
