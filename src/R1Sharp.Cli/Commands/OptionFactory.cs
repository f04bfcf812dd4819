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

    /// <summary>--quantize TYPE (generate, serve, eval): a model directory's weights quantized at load.</summary>
    public static Option<string?> Quantize()
    {
        var option = Optional<string>("--quantize",
            "Quantize a model directory's weights at load, as `r1 export gguf --dtype` writes them: f16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k");
        option.AcceptOnlyFromAmong([.. QuantizeCommand.Types.Where(t => t != "f32")]);
        return option;
    }

    /// <summary>The --quantize type given, or null.</summary>
    public static R1Sharp.Gguf.GgufDType? QuantizeType(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { } type ? R1Sharp.Gguf.QuantizationMix.Parse(type) : null;

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
