using System.CommandLine;
using System.Globalization;
using R1Sharp.Training;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// Command-line flags that set fields of a config record, each declared once with the field it sets; its help shows
/// the built-in default it overrides. <see cref="Layers"/> lays the flags given over the config file over the defaults.
/// </summary>
sealed class ConfigFlags<TConfig>(Command command, TConfig defaults) where TConfig : notnull
{
    readonly List<Func<ParseResult, TConfig, TConfig>> setters = [];

    /// <summary>A flag with a value (number or true/false) that sets one field.</summary>
    public ConfigFlags<TConfig> Add<T>(string name, string help, Func<TConfig, T> current, Func<TConfig, T, TConfig> set)
    {
        var option = new Option<T>(name) { Description = $"{help} (default {Show(current(defaults))})" };
        command.Options.Add(option);
        setters.Add((parse, config) => parse.GetResult(option) is { Implicit: false } ? set(config, parse.GetValue(option)!) : config);
        return this;
    }

    /// <summary>A flag naming one value of an enum, spelled snake_case as in config.json (dr_grpo).</summary>
    public ConfigFlags<TConfig> AddChoice<TEnum>(string name, string help, Func<TConfig, TEnum> current, Func<TConfig, TEnum, TConfig> set)
        where TEnum : struct, Enum
    {
        var option = new Option<string?>(name)
        {
            Description = $"{help}: {string.Join(" | ", Enum.GetValues<TEnum>().Select(SnakeCase.Name))} (default {SnakeCase.Name(current(defaults))})",
        };
        command.Options.Add(option);
        setters.Add((parse, config) => parse.GetValue(option) is { } value ? set(config, SnakeCase.Parse<TEnum>(value, name)) : config);
        return this;
    }

    /// <summary>Built-in defaults &lt; <paramref name="configFile"/> &lt; the flags given on this command line.</summary>
    public ConfigLayers<TConfig> Layers(ParseResult parse, string? configFile) =>
        new(defaults, configFile, config => setters.Aggregate(config, (c, set) => set(parse, c)));

    static string Show(object? value) => value switch
    {
        null => "none",
        bool b => b ? "true" : "false",
        double d => Runs.RunReport.Number(d),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
