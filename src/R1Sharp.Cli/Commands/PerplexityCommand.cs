using System.CommandLine;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 perplexity --model M --data FILE [--ctx 512] [--out FILE.json]</c>: a model's perplexity on a text, scored as llama-perplexity does.</summary>
public static class PerplexityCommand
{
    public static Command Create()
    {
        var model = OptionFactory.RequiredPath("--model", "Model directory or .gguf file");
        var data = OptionFactory.RequiredPath("--data", "UTF-8 text file to score");
        var ctx = OptionFactory.WithDefault("--ctx", 512, "Tokens per window; each window's second half is scored").AtLeast(2);
        var output = OptionFactory.OptionalPath("--out", "Write the result as JSON (perplexity, tokens_scored, ctx)");
        var threads = OptionFactory.Threads();
        var command = new Command("perplexity", "Perplexity of a model on a text file, computed as llama.cpp's llama-perplexity (to judge a quantization)")
            { model, data, ctx, output, threads };
        command.SetAction(parse =>
        {
            TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            string dataPath = parse.GetValue(data)!, modelPath = parse.GetValue(model)!;
            if (!File.Exists(dataPath)) throw new R1Error($"{dataPath}: data file not found");
            string text = File.ReadAllText(dataPath);
            var cli = CliOutput.Of(parse);
            using var bundle = ModelBundle.Load(modelPath);
            var report = Perplexity.Compute(bundle.Model, bundle.Tokenizer, text, parse.GetValue(ctx), bundle.Tokenizer.Config?.AddBosToken ?? false,
                (window, running) => cli.Err.WriteLine($"[{window}] {running:F4}")) with { Model = modelPath, Data = dataPath };
            cli.Line($"perplexity {report.Perplexity:F4} over {report.TokensScored} tokens ({report.Windows} windows of {report.Ctx})");
            if (parse.GetValue(output) is { } path) AtomicFile.WriteAllText(path, report.ToJson() + "\n");
            return 0;
        });
        return command;
    }
}
