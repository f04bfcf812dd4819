namespace R1Sharp.Runs;

/// <summary>PNG line plots of metrics over steps (ScottPlot), one file per metric.</summary>
public static class RunPlots
{
    public const int Width = 800, Height = 450;

    /// <summary>Writes folder/&lt;metric&gt;.png for every metric in <paramref name="metrics"/> that has at least one finite
    /// value in <paramref name="rows"/>; returns the paths written.</summary>
    public static List<string> Write(string folder, IReadOnlyList<MetricsRow> rows, IEnumerable<string> metrics)
    {
        var written = new List<string>();
        foreach (var metric in metrics)
        {
            var points = rows.Where(r => r.Values.TryGetValue(metric, out var v) && double.IsFinite(v))
                             .Select(r => (x: (double)r.Step, y: r.Values[metric])).ToArray();
            if (points.Length == 0)
                continue;
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, FileNameFor(metric));
            AtomicFile.WriteAllBytes(path, Render(metric, points.Select(p => p.x).ToArray(), points.Select(p => p.y).ToArray()));
            written.Add(path);
        }
        return written;
    }

    /// <summary>"completions/mean_length" → "completions_mean_length.png".</summary>
    public static string FileNameFor(string metric) =>
        string.Concat(metric.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_')) + ".png";

    static byte[] Render(string metric, double[] steps, double[] values)
    {
        var plot = new ScottPlot.Plot();
        var line = plot.Add.Scatter(steps, values);
        line.LineWidth = 2;
        // Markers only when few enough points to tell apart.
        line.MarkerSize = steps.Length <= 50 ? 5 : 0;
        plot.Title(metric);
        plot.XLabel("step");
        plot.YLabel(metric);
        return plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
    }
}
