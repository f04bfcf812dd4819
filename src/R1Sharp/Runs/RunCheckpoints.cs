using System.Globalization;

namespace R1Sharp.Runs;

/// <summary>A saved training state: the folder checkpoints/step-NNNNNN holding everything written for that step.</summary>
public sealed record CheckpointInfo(int Step, string Path);

/// <summary>
/// The checkpoints/ folder of a run. Each checkpoint is written whole into a temp folder and renamed into place, so
/// the latest one listed is always complete; only the newest <c>keepLast</c> are kept.
/// </summary>
public sealed class RunCheckpoints(string folder)
{
    const string Prefix = "step-";

    public string Folder { get; } = folder;

    /// <summary>Writes checkpoint <paramref name="step"/>: <paramref name="write"/> fills a folder (model weights,
    /// optimizer state, RNG states, data position), which then appears atomically; older ones beyond
    /// <paramref name="keepLast"/> are deleted after it is in place.</summary>
    public CheckpointInfo Save(int step, Action<string> write, int keepLast)
    {
        if (step < 0)
            throw new ArgumentOutOfRangeException(nameof(step), step, "must be 0 or more");
        if (keepLast < 1)
            throw new R1Error($"save_total_limit = {keepLast} must be at least 1");
        var path = System.IO.Path.Combine(Folder, $"{Prefix}{step:D6}");
        AtomicDirectory.Write(path, write);
        foreach (var old in List().SkipLast(keepLast))
            Directory.Delete(old.Path, recursive: true);
        return new CheckpointInfo(step, path);
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public List<CheckpointInfo> List()
    {
        if (!Directory.Exists(Folder))
            return [];
        return Directory.GetDirectories(Folder, Prefix + "*")
            .Select(dir => (dir, name: System.IO.Path.GetFileName(dir)))
            .Where(d => int.TryParse(d.name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(d => new CheckpointInfo(int.Parse(d.name.AsSpan(Prefix.Length), CultureInfo.InvariantCulture), d.dir))
            .OrderBy(c => c.Step)
            .ToList();
    }

    public CheckpointInfo? Latest() => List().LastOrDefault();

    /// <summary>Clears temp folders left by a save that was killed half-way.</summary>
    public void RemoveUnfinished() => AtomicDirectory.RemoveLeftovers(Folder);
}
