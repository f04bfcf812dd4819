using System.CommandLine;
using System.Text;
using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Tokenizers;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 generate --model DIR --prompt TEXT [...]</c>: stream a continuation to standard output.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = OptionFactory.RequiredPath("--model", "Model directory, or a .gguf file (weights kept quantized as stored)");
        var prompt = OptionFactory.Required<string>("--prompt", "Prompt text");
        var maxTokens = OptionFactory.WithDefault("--max-tokens", 128, "Most new tokens");
        var temperature = OptionFactory.WithDefault("--temperature", 0.6, "Sampling temperature; 0 is greedy");
        var topP = OptionFactory.WithDefault("--top-p", 0.95, "Nucleus sampling threshold");
        var topK = OptionFactory.WithDefault("--top-k", 0, "Keep the k most likely tokens; 0 keeps all");
        var minP = OptionFactory.WithDefault("--min-p", 0.0, "Drop tokens below min-p × the top probability");
        var seed = OptionFactory.Optional<int?>("--seed", "Seed for sampling; the same seed gives the same text");
        var chat = new Option<bool>("--chat") { Description = "Render the prompt as a user turn with the model's chat template" };
        var threads = OptionFactory.Threads();
        var adapter = OptionFactory.Adapter();
        var quantize = OptionFactory.Quantize();
        var precision = OptionFactory.GenerationPrecision();
        var command = new Command("generate", "Generate text from a model")
            { model, adapter, prompt, maxTokens, temperature, topP, topK, minP, seed, chat, threads, quantize, precision };
        command.SetAction(parse =>
        {
            TorchSharp.torch.set_num_threads(parse.GetValue(threads));
            using var bundle = ModelBundle.Load(parse.GetValue(model)!, quantize: OptionFactory.QuantizeType(parse, quantize), adapterDir: parse.GetValue(adapter),
                precision: OptionFactory.PrecisionOf(parse, precision));
            string text = parse.GetValue(prompt)!;
            var ids = parse.GetValue(chat) ? bundle.EncodeChat([new ChatMessage("user", text)]) : bundle.Tokenizer.Encode(text);
            var options = new SamplingOptions
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                MinP = parse.GetValue(minP), MaxNewTokens = parse.GetValue(maxTokens), Seed = parse.GetValue(seed),
            };
            var cli = CliOutput.Of(parse);
            if (bundle.WeightPrecision != Training.PrecisionChoice.Fp32) cli.Note($"weights: {bundle.WeightPrecision.Reason}");
            var stream = new IncrementalDetokenizer(bundle.Tokenizer);
            var generated = new GenerationEngine(bundle.Model, bundle.Tokenizer).Generate([new GenerationRequest(ids, options)],
                token =>
                {
                    cli.Out.Write(stream.Add(token.TokenId));
                    cli.Out.Flush();
                });
            cli.Out.Write(stream.Flush());
            cli.Out.WriteLine();
            cli.Out.Flush();
            // The text alone does not show whether the model finished or ran out of room.
            if (generated[0][0].FinishReason == FinishReason.Length)
                cli.Note($"stopped at --max-tokens {options.MaxNewTokens}: the model had not finished (raise --max-tokens for more)");
            return 0;
        });
        return command;
    }
}
