using System.Globalization;
using System.Text;

namespace R1Sharp.Runs;

/// <summary>The head of report.md: what ran, how it ended, the final metrics and the plots.</summary>
public static class RunReport
{
    public static string Summary(RunRecord run, int? lastStep, IReadOnlyList<string> plotFiles)
    {
        var md = new StringBuilder();
        md.AppendLine($"# {run.Name}").AppendLine();
        md.AppendLine($"- kind: {run.Kind}");
        md.AppendLine($"- status: {RunStore.StatusName(run.Status)}");
        md.AppendLine($"- started: {run.StartedAt.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC");
        if (run.EndedAt is { } end)
            md.AppendLine($"- duration: {Duration(end - run.StartedAt)}");
        if (lastStep is { } step)
            md.AppendLine($"- steps: {step}");
        md.AppendLine($"- config: [{RunFolder.ConfigFile}]({RunFolder.ConfigFile}), metrics: [{RunFolder.MetricsFile}]({RunFolder.MetricsFile})");
        if (run.FinalMetrics.Count > 0)
        {
            md.AppendLine().AppendLine("## Final metrics").AppendLine();
            md.AppendLine("| metric | value |").AppendLine("|---|---|");
            foreach (var (name, value) in run.FinalMetrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                md.AppendLine($"| {name} | {Number(value)} |");
        }
        if (run.Cost is { } cost)
            md.AppendLine().Append(cost.ToMarkdown().TrimEnd()).AppendLine();
        if (plotFiles.Count > 0)
        {
            md.AppendLine().AppendLine("## Plots").AppendLine();
            foreach (var file in plotFiles)
                md.AppendLine($"![{Path.GetFileNameWithoutExtension(file)}]({file.Replace('\\', '/')})");
        }
        return md.AppendLine().ToString();
    }

    /// <summary>Up to four decimals, invariant culture; scientific for very small or very large values.</summary>
    public static string Number(double value) =>
        value == 0 || (Math.Abs(value) >= 1e-3 && Math.Abs(value) < 1e6)
            ? value.ToString("0.####", CultureInfo.InvariantCulture)
            : value.ToString("0.###e+0", CultureInfo.InvariantCulture);

    public static string Duration(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:D2}m{span.Seconds:D2}s"
        : span.TotalMinutes >= 1 ? $"{span.Minutes}m{span.Seconds:D2}s"
        : $"{span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s";
}
