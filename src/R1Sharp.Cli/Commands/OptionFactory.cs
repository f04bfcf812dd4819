using System.CommandLine;
using System.Globalization;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// Short-hands for the option shapes every command uses, and the one place for the rules an option's value must meet
/// before a command runs (<see cref="Must{T}"/>): a value that breaks one is a usage error — "error: --threads must be
/// at least 1, got 0" and exit code 2 — rather than an exception or a native abort in the library it would reach.
/// </summary>
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

    /// <summary>--precision fp32|bf16|auto (generate, serve, eval, sample): the weights generation reads.</summary>
    public static Option<string> GenerationPrecision()
    {
        var option = WithDefault("--precision", "fp32",
            "Weights generation reads: fp32; bf16 (bfloat16 copies of the projections: half the bytes per token, slightly different log-probs); " +
            "auto (bf16 only on a CPU with native bf16 where a decode step measures clearly faster, remembered per machine)");
        option.AcceptOnlyFromAmong("fp32", "bf16", "auto");
        return option;
    }

    /// <summary>The --precision given.</summary>
    public static R1Sharp.Training.Precision PrecisionOf(ParseResult parse, Option<string> option) =>
        R1Sharp.Training.SnakeCase.Parse<R1Sharp.Training.Precision>(parse.GetValue(option)!, option.Name);

    /// <summary>--adapter DIR: a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) applied over --model.</summary>
    public static Option<string?> Adapter() =>
        OptionalPath("--adapter", "LoRA adapter folder in PEFT's format (as r1 sft/grpo/distill --lora-r write it) to apply over --model");

    /// <summary>A file or folder the command must have.</summary>
    public static Option<string> RequiredPath(string name, string description) => Required<string>(name, description).MustBePath();

    /// <summary>A file or folder the command may be given.</summary>
    public static Option<string?> OptionalPath(string name, string description) => Optional<string>(name, description).MustBePath();

    /// <summary>A file or folder with a default.</summary>
    public static Option<string> PathWithDefault(string name, string value, string description) => WithDefault(name, value, description).MustBePath();

    /// <summary>--threads N (default: every core); libtorch aborts the process on 0 or less.</summary>
    public static Option<int> Threads(string description = "CPU threads") =>
        WithDefault("--threads", Environment.ProcessorCount, description).Must(n => n >= 1, "must be at least 1");

    /// <summary>A whole number of at least <paramref name="minimum"/>.</summary>
    public static Option<int> AtLeast(this Option<int> option, int minimum) => option.Must(n => n >= minimum, $"must be at least {minimum}");

    /// <summary>Adds the rule that a given value must meet (<paramref name="rule"/> says it: "must be at least 1").
    /// An absent optional value is not checked.</summary>
    public static Option<T> Must<T>(this Option<T> option, Func<T, bool> ok, string rule)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T>() is { } value && !ok(value)) result.AddError($"{option.Name} {rule}, got {Show(value)}");
        });
        return option;
    }

    /// <summary>The rule for paths: not empty or blank (.NET's file functions throw on those), no NUL character.</summary>
    public static Option<T> MustBePath<T>(this Option<T> option) =>
        option.Must(value => value is not string path || IsPath(path), "must name a file or folder");

    /// <summary>The same rule for a positional argument.</summary>
    public static Argument<string> MustBePath(this Argument<string> argument)
    {
        argument.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } path && !IsPath(path)) result.AddError($"{argument.Name} must name a file or folder, got {Show(path)}");
        });
        return argument;
    }

    static bool IsPath(string path) => path.Trim().Length > 0 && !path.Contains('\0');

    static string Show(object value) => value switch
    {
        string s => $"'{s}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
