using System.CommandLine;

namespace R1Sharp.Cli.Commands;

/// <summary>Short-hands for the option shapes every command uses.</summary>
public static class OptionFactory
{
    public static Option<T> Required<T>(string name, string description) =>
        new(name) { Description = description, Required = true };

    public static Option<T> WithDefault<T>(string name, T value, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => value };

    public static Option<T?> Optional<T>(string name, string description) =>
        new(name) { Description = description };

    /// <summary>--threads N (default: every core); 0 or less is a usage error, not a native abort in libtorch.</summary>
    public static Option<int> Threads()
    {
        var option = WithDefault("--threads", Environment.ProcessorCount, "CPU threads");
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError($"--threads must be at least 1, got {result.GetValueOrDefault<int>()}");
        });
        return option;
    }
}
