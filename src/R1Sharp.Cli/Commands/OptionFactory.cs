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
}
