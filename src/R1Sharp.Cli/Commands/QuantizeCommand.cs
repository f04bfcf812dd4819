using System.CommandLine;
using R1Sharp.Gguf;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 quantize IN OUT.gguf --type TYPE</c>: a model folder or GGUF file as a quantized GGUF file.</summary>
public static class QuantizeCommand
{
    /// <summary>The file types `r1 quantize` and `r1 export gguf --dtype` write.</summary>
    public static readonly string[] Types = ["f32", "f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"];

    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "A model folder (config.json, weights, tokenizer.json) or a .gguf file" }.MustBePath();
        var output = new Argument<string>("output") { Description = "The GGUF file to write" }.MustBePath();
        var type = OptionFactory.Required<string>("--type", "q8_0, q4_0, q4_k_m, q5_k_m, q6_k (or f16, f32): the mixes llama.cpp's llama-quantize writes");
        type.AcceptOnlyFromAmong(Types);
        var command = new Command("quantize", "Write a model as a quantized GGUF file that llama.cpp and r1 both run") { input, output };
        command.Options.Add(type);
        command.SetAction(parse =>
        {
            string from = parse.GetValue(input)!, to = parse.GetValue(output)!;
            GgufQuantizer.Quantize(from, to, QuantizationMix.Parse(parse.GetValue(type)!));
            Report(parse, to);
            return 0;
        });
        return command;
    }

    /// <summary>One line about the file just written.</summary>
    public static void Report(ParseResult parse, string path)
    {
        var file = GgufReader.Read(path);
        var types = file.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}");
        CliOutput.Of(parse).Line(
            $"wrote {path}: {file.Architecture}, {file.Tensors.Count} tensors ({string.Join(", ", types)}), {file.FileLength / (1024.0 * 1024):F1} MiB (check it with r1 inspect {path})");
    }
}
