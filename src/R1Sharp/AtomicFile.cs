namespace R1Sharp;

/// <summary>Writes files (and folders) so a reader never sees half of one: write a temp file beside it, then rename.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => Write(path, temp => File.WriteAllText(temp, text));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, temp => File.WriteAllBytes(temp, bytes));

    /// <summary>Runs <paramref name="writeTemp"/> on a temp path in the same folder, then renames it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> writeTemp)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            writeTemp(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Runs <paramref name="writeTemp"/> on a new temp folder beside <paramref name="path"/>, then renames it to
    /// <paramref name="path"/>; a folder already there is moved aside first and deleted once the new one is in place.
    /// On failure nothing is left but what was at <paramref name="path"/> before.
    /// </summary>
    public static void WriteDirectory(string path, Action<string> writeTemp)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string stamp = $".{Environment.ProcessId}.{Guid.NewGuid():N}";
        string temp = full + stamp + ".tmp";
        Directory.CreateDirectory(temp);
        try
        {
            writeTemp(temp);
            if (!Directory.Exists(full))
            {
                Directory.Move(temp, full);
                return;
            }
            string old = full + stamp + ".old";
            Directory.Move(full, old);
            try
            {
                Directory.Move(temp, full);
            }
            catch
            {
                Directory.Move(old, full);
                throw;
            }
            Directory.Delete(old, recursive: true);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
