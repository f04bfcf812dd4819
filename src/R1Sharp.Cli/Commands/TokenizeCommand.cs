using System.CommandLine;
using System.Text.Json.Nodes;
using System.Text.Json;
using R1Sharp.Tokenizers;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 tokenize --tokenizer PATH (--text TEXT | --jsonl IN [--out OUT])</c>: text to token ids.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = OptionFactory.RequiredPath("--tokenizer", "tokenizer.json, or a folder holding it (and tokenizer_config.json)");
        var textOption = OptionFactory.Optional<string>("--text", "Text to tokenize; its ids are printed as a JSON array");
        var jsonlOption = OptionFactory.OptionalPath("--jsonl", "JSONL file of {\"text\": ...} lines; writes one {\"text\", \"ids\"} line per input line");
        var outOption = OptionFactory.OptionalPath("--out", "File for the --jsonl output (default: standard output)");
        var command = new Command("tokenize", "Turn text into token ids with a Hugging Face tokenizer.json");
        command.Options.Add(tokenizerOption);
        command.Options.Add(textOption);
        command.Options.Add(jsonlOption);
        command.Options.Add(outOption);
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(textOption), jsonl = parse.GetValue(jsonlOption), output = parse.GetValue(outOption);
            if ((text is null) == (jsonl is null)) throw new R1Error("give exactly one of --text and --jsonl");
            if (output is not null && jsonl is null) throw new R1Error("--out goes with --jsonl");
            HfTokenizer tokenizer = TokenizerLoader.Load(parse.GetValue(tokenizerOption)!);
            TextWriter stdout = CliOutput.Of(parse).Out;

            if (text is not null)
            {
                stdout.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(text)));
                return 0;
            }
            if (output is null) WriteJsonl(tokenizer, jsonl!, stdout);
            else AtomicFile.Write(output, temp =>
            {
                using var writer = new StreamWriter(temp);
                WriteJsonl(tokenizer, jsonl!, writer);
            });
            return 0;
        });
        return command;
    }

    static void WriteJsonl(HfTokenizer tokenizer, string inputPath, TextWriter writer)
    {
        foreach ((_, string text) in TextCorpus.ReadJsonl(inputPath))
            writer.WriteLine(JsonlFile.Line(new JsonObject { ["text"] = text, ["ids"] = new JsonArray([.. tokenizer.Encode(text).Select(id => (JsonNode)id)]) }));
    }
}
