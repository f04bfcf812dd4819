namespace R1Sharp.Tests;

/// <summary>
/// A fresh folder under the system temp folder, deleted with everything in it on dispose. The one temp-folder helper
/// of the suite: <c>using var dir = new TempDir();</c> in a test, a field of a test class that disposes it, or
/// <see cref="ForSession"/> for a folder shared by every test of the run (deleted when the test process exits).
/// </summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "r1-test-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    /// <summary>A path inside the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public static implicit operator string(TempDir dir) => dir.Path;

    public override string ToString() => Path;

    /// <summary>A folder that lives as long as the test process (for fixtures built once and shared).</summary>
    public static TempDir ForSession(string prefix)
    {
        var dir = new TempDir(prefix);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => dir.Dispose();
        return dir;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file still open elsewhere: the OS's temp cleaner gets it later.
        }
    }
}
