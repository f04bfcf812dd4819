using System.CommandLine;
using System.Text.Json.Nodes;
using System.Text.Json;
using R1Sharp.Gguf;
using R1Sharp.Tokenizers;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// <c>r1 tokenize --tokenizer PATH (--text TEXT | --jsonl IN | --chat-jsonl IN) [--out OUT]</c>: text to token ids, or
/// chat requests through the tokenizer's chat template to text and ids, as transformers' apply_chat_template.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = OptionFactory.RequiredPath("--tokenizer", "tokenizer.json, a folder holding it (and tokenizer_config.json), or a .gguf file (its tokenizer metadata and chat template)");
        var textOption = OptionFactory.Optional<string>("--text", "Text to tokenize; its ids are printed as a JSON array");
        var jsonlOption = OptionFactory.OptionalPath("--jsonl", "JSONL file of {\"text\": ...} lines; writes one {\"text\", \"ids\"} line per input line");
        var chatJsonlOption = OptionFactory.OptionalPath("--chat-jsonl",
            "JSONL file of {\"messages\": [...], \"add_generation_prompt\": true|false, ...} lines (other keys such as tools or enable_thinking "
            + "are template variables); writes each line back with \"rendered\" (the chat template's text) and \"ids\", as transformers' "
            + "apply_chat_template(..., tokenize=True) returns them");
        var outOption = OptionFactory.OptionalPath("--out", "File for the --jsonl or --chat-jsonl output (default: standard output)");
        var command = new Command("tokenize", "Turn text, or chats through the tokenizer's chat template, into token ids with a Hugging Face tokenizer.json");
        command.Options.Add(tokenizerOption);
        command.Options.Add(textOption);
        command.Options.Add(jsonlOption);
        command.Options.Add(chatJsonlOption);
        command.Options.Add(outOption);
        command.SetAction(parse =>
        {
            string? text = parse.GetValue(textOption), jsonl = parse.GetValue(jsonlOption), chatJsonl = parse.GetValue(chatJsonlOption), output = parse.GetValue(outOption);
            if (new[] { text, jsonl, chatJsonl }.Count(o => o is not null) != 1) throw new R1Error("give exactly one of --text, --jsonl and --chat-jsonl");
            if (output is not null && text is not null) throw new R1Error("--out goes with --jsonl or --chat-jsonl");
            string tokenizerPath = parse.GetValue(tokenizerOption)!;
            // A .gguf file carries its tokenizer and chat template in its metadata.
            HfTokenizer tokenizer = GgufModelLoader.IsGgufFile(tokenizerPath)
                ? GgufTokenizer.Load(GgufReader.Read(tokenizerPath))
                : TokenizerLoader.Load(tokenizerPath);
            TextWriter stdout = CliOutput.Of(parse).Out;

            if (text is not null)
            {
                stdout.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(text)));
                return 0;
            }
            Action<TextWriter> write = jsonl is not null ? writer => WriteJsonl(tokenizer, jsonl, writer) : writer => WriteChatJsonl(tokenizer, tokenizerPath, chatJsonl!, writer);
            if (output is null) write(stdout);
            else AtomicFile.Write(output, temp =>
            {
                using var writer = new StreamWriter(temp);
                write(writer);
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

    static void WriteChatJsonl(HfTokenizer tokenizer, string tokenizerPath, string inputPath, TextWriter writer)
    {
        ChatTemplate template = (tokenizer.Config is { } config ? ChatTemplate.FromConfig(config, tokenizer.Definition.AddedTokens) : null)
            ?? throw new R1Error($"{tokenizerPath}: the tokenizer has no chat template (no \"chat_template\" in tokenizer_config.json, no tokenizer.chat_template in a GGUF file)");
        foreach (var line in ChatJsonl.Tokenize(inputPath, template, tokenizer))
            writer.WriteLine(JsonlFile.Line(line));
    }
}
