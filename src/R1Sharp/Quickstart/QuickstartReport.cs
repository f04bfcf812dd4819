using System.Globalization;
using System.Text;
using System.Text.Json;
using R1Sharp.Evaluation;
using R1Sharp.Runs;
using R1Sharp.Training;

namespace R1Sharp.Quickstart;

/// <summary>One model on one split, by R1's protocol (pass@1 = mean correctness over k samples).</summary>
public sealed record SplitScores(double Pass1, double ConsAtK, double MeanResponseTokens, double PassAtK, double? GreedyAccuracy, double ThinkingShare)
{
    public static SplitScores From(EvalResult result)
    {
        var r = result.Report;
        var sampled = result.Samples.Where(s => !s.Greedy).ToList();
        // A sample "thinks" when it writes work before closing the think block the template opened.
        double thinking = sampled.Count == 0 ? 0 : sampled.Count(s => !s.Completion.StartsWith(Tokenizers.ChatTokens.ThinkEnd)) / (double)sampled.Count;
        return new SplitScores(r.PassAt1, r.ConsAtK, r.MeanResponseTokens, r.PassAtK[r.PassAtK.Keys.Max()], r.GreedyAccuracy, thinking);
    }
}

/// <summary>A model's scores on the held-out split and on the harder split.</summary>
public sealed record ModelScores(SplitScores Heldout, SplitScores Harder, double TrainSeconds);

/// <summary>
/// What a report of models scored on the addition task by R1's protocol says beside the scores: how they were
/// measured (prompts per split, k samples at a temperature and top-p) and what the whole run cost (seconds per stage,
/// on which machine). The quickstart's report.json and the experiment's experiment.json both carry it.
/// </summary>
public abstract record ProtocolReport
{
    /// <summary>k: samples per prompt that pass@1 averages and cons@k votes over.</summary>
    public required int SamplesPerPrompt { get; init; }
    /// <summary>Prompts of each split (held-out and harder).</summary>
    public required int EvalPrompts { get; init; }
    /// <summary>Sampling temperature of the evaluation (R1's 0.6).</summary>
    public required double Temperature { get; init; }
    /// <summary>Nucleus threshold of the evaluation (R1's 0.95).</summary>
    public required double TopP { get; init; }
    /// <summary>Wall-clock of the whole run.</summary>
    public required double TotalSeconds { get; init; }
    /// <summary>Wall-clock of each stage, in the order they ran.</summary>
    public required IReadOnlyDictionary<string, double> StageSeconds { get; init; }
    /// <summary>Cores, OS and architecture the run took its seconds on.</summary>
    public required string Machine { get; init; }
    /// <summary>The whole run's cost card, its stages' under <c>stages</c> (absent from reports made before cost cards).</summary>
    public CostCard? Cost { get; init; }

    /// <summary>"Addition, 200 prompts per split, k = 4 samples at temperature 0.6, top-p 0.95" for a report's opening line.</summary>
    protected string Protocol => $"Addition, {EvalPrompts} prompts per split, k = {SamplesPerPrompt} samples at temperature {Temperature}, top-p {TopP}";

    /// <summary>"Total 412.3 s on 2 cores, .... Stages: pretrain 200.1 s, ...".</summary>
    protected string Timing => $"Total {N(TotalSeconds)} s on {Machine}. Stages: " +
        string.Join(", ", StageSeconds.Select(kv => $"{kv.Key} {N(kv.Value)} s")) + ".";

    /// <summary>A share as a percentage with one decimal.</summary>
    protected static string P(double share) => (100 * share).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>A number with one decimal.</summary>
    protected static string N(double value) => value.ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>report.json of `r1 quickstart`: base, rl and (with --control) control, each on heldout and harder.</summary>
public sealed record QuickstartReport : ProtocolReport
{
    public required ModelScores Base { get; init; }
    public required ModelScores Rl { get; init; }
    public ModelScores? Control { get; init; }
    public required QuickstartConfig Config { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, SnakeCase.Report);

    public static QuickstartReport Load(string path) => ConfigJson.Deserialize<QuickstartReport>(File.ReadAllText(path), path, SnakeCase.Report);

    public string ToMarkdown(IEnumerable<string> plots)
    {
        var md = new StringBuilder();
        md.AppendLine("# R1-Zero quickstart");
        md.AppendLine();
        md.AppendLine($"{Protocol} (pass@1 = mean correctness over the k samples, as DeepSeek-R1 reports it). " +
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
        md.AppendLine(Timing);
        md.AppendLine();
        foreach (var plot in plots) md.AppendLine($"![{Path.GetFileNameWithoutExtension(plot)}]({plot})");
        return md.ToString();
    }
}
