using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Gguf;
using R1Sharp.Model;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 inspect DIR|FILE.gguf</c>: what a model is, what it costs per token, and whether its weights fit.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A model directory (config.json and weights), a config.json, or a .gguf file" }.MustBePath();
        var command = new Command("inspect",
            "Show a model's shape, parameters (total, active per token) and KV-cache bytes per token, and check every weight file's "
            + "header and tensor table against the config (names, shapes, dtypes, byte ranges) without reading the weights") { path };
        command.SetAction(parse =>
        {
            string target = parse.GetValue(path)!;
            var cli = CliOutput.Of(parse);
            var (output, console) = (cli.Out, cli.Results);
            if (File.Exists(target) && target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                output.WriteLine(GgufInspector.Summarize(target));
                return 0;
            }
            // A weight file alone cannot be checked (its shapes mean something only against config.json): point at its folder.
            if (File.Exists(target) && (!target.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                                        || Path.GetFileName(target).Contains(".safetensors", StringComparison.OrdinalIgnoreCase)))
                throw new R1Error($"{target}: not a model folder, config.json or .gguf file; to check weights, pass the model folder "
                                  + $"({Path.GetDirectoryName(Path.GetFullPath(target))}): r1 inspect checks its weight files against its config.json");
            if (!Directory.Exists(target))
            {
                console.Write(Render(ModelConfig.Load(target), target));
                return 0;
            }
            var config = ModelConfig.Load(Path.Combine(target, ModelCheckpoint.ConfigFile));
            // Checked before anything is printed: a bad checkpoint gives only the error (exit 2).
            var weights = HfWeights.Exist(target) ? WeightCheck.Run(target, config) : null;
            console.Write(Render(config, target));
            if (weights is null) output.WriteLine($"weights: none in {target} (config only)");
            else
            {
                console.Write(Render(weights));
                output.WriteLine(Summary(weights));
            }
            return 0;
        });
        return command;
    }

    static Table Render(ModelConfig c, string source)
    {
        var stats = ModelStats.Of(c);
        var table = new Table().Title(Markup.Escape(source)).AddColumn("property").AddColumn(new TableColumn("value").RightAligned());
        void Row(string name, string value) => table.AddRow(Markup.Escape(name), Markup.Escape(value));
        Row("family (model_type)", ModelConfig.TypeName(c.Family));
        Row("layers × hidden", $"{c.NumHiddenLayers} × {c.HiddenSize}");
        Row("vocab", $"{c.VocabSize:N0}");
        if (c.IsMla)
        {
            Row("attention", $"MLA: {c.NumAttentionHeads} heads, kv_lora_rank {c.KvLoraRank}, q_lora_rank {(c.QLoraRank is > 0 ? c.QLoraRank.ToString() : "none")}, rope dim {c.QkRopeHeadDim}");
            if (c.NRoutedExperts > 0)
                Row("MoE", $"{c.NRoutedExperts} routed (top {c.NumExpertsPerTok}, {c.NGroup} groups, top {c.TopkGroup}) + {c.NSharedExperts} shared, first {c.FirstKDenseReplace} layers dense");
        }
        else
        {
            Row("attention", $"GQA: {c.NumAttentionHeads} query heads, {c.NumKeyValueHeads} KV heads, head dim {c.GqaHeadDim}");
        }
        Row("total parameters", $"{stats.TotalParameters:N0}");
        Row("active parameters per token", $"{stats.ActiveParametersPerToken:N0}");
        Row("KV-cache values per token per layer", $"{stats.KvCacheValuesPerTokenPerLayer:N0}");
        Row("KV-cache bytes per token (bf16)", $"{stats.KvCacheBytesPerToken(2):N0}");
        Row("KV-cache bytes per token (fp32)", $"{stats.KvCacheBytesPerToken(4):N0}");
        return table;
    }

    /// <summary>The weight check: each file's size, tensors and elements.</summary>
    static Table Render(WeightCheck w)
    {
        var table = new Table().Title("weights (headers only)").AddColumn("file").AddColumn(new TableColumn("bytes").RightAligned())
            .AddColumn(new TableColumn("tensors").RightAligned()).AddColumn(new TableColumn("elements").RightAligned());
        foreach (var file in w.Files)
            table.AddRow(Markup.Escape(Path.GetFileName(file.Path)), $"{file.Bytes:N0}", $"{file.Tensors:N0}", $"{file.Elements:N0}");
        return table;
    }

    static string Summary(WeightCheck w) =>
        $"weight check: OK: names, shapes, dtypes and byte ranges of {w.Tensors:N0} tensors match config.json; "
        + $"parameters found {w.Parameters:N0}, config {w.ExpectedParameters:N0}; "
        + string.Join(", ", w.ElementsByDtype.Select(kv => $"{kv.Key} {kv.Value:N0} elements"))
        + (w.SkippedMtpTensors > 0 ? $"; {w.SkippedMtpTensors:N0} multi-token-prediction tensors (not loaded)" : "");
}
