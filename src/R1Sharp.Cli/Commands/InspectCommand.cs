using System.CommandLine;
using R1Sharp.Gguf;
using R1Sharp.Model;
using Spectre.Console;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 inspect DIR|FILE.gguf</c>: what a model is and what it costs per token.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "A model directory (config.json) or a .gguf file" };
        var command = new Command("inspect", "Show a model's shape, parameters (total, active per token) and KV-cache bytes per token") { path };
        command.SetAction(parse =>
        {
            string target = parse.GetValue(path)!;
            if (File.Exists(target) && target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                parse.InvocationConfiguration.Output.WriteLine(GgufInspector.Summarize(target));
                return 0;
            }
            string configPath = Directory.Exists(target) ? Path.Combine(target, "config.json") : target;
            var config = ModelConfig.Load(configPath);
            // Written to the command's output (not the process console), so the caller decides where it goes.
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output) });
            console.Write(Render(config, target));
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
}
