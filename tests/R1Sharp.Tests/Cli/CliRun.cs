using R1Sharp.Cli;

namespace R1Sharp.Tests.Cli;

/// <summary>Runs one `r1` command line in-process, as a user's shell would without a terminal: standard output and
/// standard error captured apart.</summary>
static class CliRun
{
    public sealed record Result(int Exit, string Out, string Err)
    {
        public override string ToString() => $"exit {Exit}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    public static Result R1(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = CliApp.Run(args, output, errors);
        return new Result(exit, output.ToString(), errors.ToString());
    }

    /// <summary>The repository's root (the folder holding R1Sharp.sln).</summary>
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "R1Sharp.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("R1Sharp.sln not found above " + AppContext.BaseDirectory);
    }
}
