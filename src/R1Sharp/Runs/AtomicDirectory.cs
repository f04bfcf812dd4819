namespace R1Sharp.Runs;

/// <summary>
/// Builds a folder under a temporary name and renames it into place, so a folder such as a checkpoint is either
/// complete or absent: a run killed mid-save leaves only a temp folder, which <see cref="RemoveLeftovers"/> clears.
/// </summary>
public static class AtomicDirectory
{
    const string TempPrefix = ".tmp-";

    /// <summary>Runs <paramref name="fill"/> on an empty temp folder beside <paramref name="path"/>, then renames it to
    /// <paramref name="path"/>, replacing any folder already there.</summary>
    public static void Write(string path, Action<string> fill)
    {
        string full = Path.GetFullPath(path);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        string temp = Path.Combine(parent, $"{TempPrefix}{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            fill(temp);
            if (Directory.Exists(full))
            {
                // Move the old copy aside first: a rename over a non-empty folder is not allowed.
                string old = temp + ".old";
                Directory.Move(full, old);
                Directory.Move(temp, full);
                Directory.Delete(old, recursive: true);
            }
            else
                Directory.Move(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Deletes temp folders a killed process left in <paramref name="parent"/>.</summary>
    public static void RemoveLeftovers(string parent)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var dir in Directory.GetDirectories(parent, TempPrefix + "*"))
            Directory.Delete(dir, recursive: true);
    }
}
