using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Gguf;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 export gguf</c>: a model directory as one GGUF file for llama.cpp, Ollama and LM Studio.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var export = new Command("export", "Write a model in another runtime's format");
        export.Subcommands.Add(Gguf());
        return export;
    }

    static Command Gguf()
    {
        var model = OptionFactory.RequiredPath("--model", "Model directory: config.json, weights, tokenizer.json (and tokenizer_config.json for special tokens and the chat template)");
        var output = OptionFactory.RequiredPath("--out", "GGUF file to write");
        var dtype = OptionFactory.WithDefault("--dtype", "f32", "Matrix element type: f32, f16, or the quantized mixes q8_0, q4_0, q4_k_m, q5_k_m, q6_k (norms and biases stay f32)");
        dtype.AcceptOnlyFromAmong(QuantizeCommand.Types);
        var command = new Command("gguf", "Export a llama, qwen2 or deepseek_v3 model with its tokenizer and chat template as GGUF (llama.cpp)");
        command.Options.Add(model);
        command.Options.Add(output);
        command.Options.Add(dtype);
        command.SetAction(parse =>
        {
            string dir = parse.GetValue(model)!, path = parse.GetValue(output)!;
            using var loaded = ModelCheckpoint.Load(dir);
            GgufExporter.Export(loaded, Path.Combine(dir, "tokenizer.json"), Path.Combine(dir, "tokenizer_config.json"), path,
                QuantizationMix.Parse(parse.GetValue(dtype)!));
            QuantizeCommand.Report(parse, path);
            return 0;
        });
        return command;
    }
}
