using System.CommandLine;
using R1Sharp.Checkpoints;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 merge --model BASE --adapter DIR --out DIR</c>: a LoRA adapter folded into its base model's weights.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = OptionFactory.RequiredPath("--model", "Base model directory the adapter was trained on");
        var adapter = OptionFactory.RequiredPath("--adapter", "LoRA adapter folder in PEFT's format (adapter_config.json + adapter_model.safetensors)");
        var output = OptionFactory.RequiredPath("--out", "New model directory (HF layout: config.json, model.safetensors, tokenizer files)");
        var command = new Command("merge", "Fold a LoRA adapter into its base model: W + scaling·B·A, saved as a plain model folder (r1 export gguf reads it)")
            { model, adapter, output };
        command.SetAction(parse =>
        {
            string outDir = parse.GetValue(output)!;
            PeftAdapter.Merge(parse.GetValue(model)!, parse.GetValue(adapter)!, outDir);
            CliOutput.Of(parse).Line($"wrote {outDir}: the base with the adapter merged into its weights");
            return 0;
        });
        return command;
    }
}
