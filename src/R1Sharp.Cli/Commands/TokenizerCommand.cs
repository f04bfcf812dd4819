using System.CommandLine;
using System.Diagnostics;
using R1Sharp.Tokenizers;

namespace R1Sharp.Cli.Commands;

/// <summary><c>r1 tokenizer train --corpus FILE --vocab-size N --out DIR</c>: our own byte-level BPE tokenizer.</summary>
public static class TokenizerCommand
{
    public static Command Create()
    {
        var command = new Command("tokenizer", "Build tokenizers for our own models");
        command.Subcommands.Add(CreateTrain());
        command.Subcommands.Add(CreateByte());
        return command;
    }

    static Command CreateByte()
    {
        var outOption = OptionFactory.RequiredPath("--out", "Folder for tokenizer.json and tokenizer_config.json");
        var command = new Command("byte", "Write the byte tokenizer for tiny test models (256 byte ids + chat special tokens)");
        command.Options.Add(outOption);
        command.SetAction(parse =>
        {
            string output = parse.GetValue(outOption)!;
            var tokenizer = new ByteTokenizer();
            tokenizer.Save(output);
            CliOutput.Of(parse).Line($"byte tokenizer ({tokenizer.VocabSize} ids) -> {output}");
            return 0;
        });
        return command;
    }

    static Command CreateTrain()
    {
        var corpusOption = OptionFactory.RequiredPath("--corpus", "Training text: a .jsonl file of {\"text\": ...} lines, or any plain UTF-8 text file");
        var vocabSizeOption = OptionFactory.Required<int>("--vocab-size", $"Total number of ids, at least {BpeTrainer.BaseVocabSize} (256 bytes + chat special tokens)");
        var outOption = OptionFactory.RequiredPath("--out", "Folder for tokenizer.json and tokenizer_config.json");
        var minPairOption = OptionFactory.WithDefault("--min-pair-count", 2, "Stop merging when the most frequent pair occurs fewer times").AtLeast(1);
        var command = new Command("train", "Train a byte-level BPE tokenizer (Qwen-style pre-tokenizer, DeepSeek-R1 chat tokens and template)");
        command.Options.Add(corpusOption);
        command.Options.Add(vocabSizeOption);
        command.Options.Add(outOption);
        command.Options.Add(minPairOption);
        command.SetAction(parse =>
        {
            var clock = Stopwatch.StartNew();
            int vocabSize = parse.GetValue(vocabSizeOption), minPairCount = parse.GetValue(minPairOption);
            TokenizerJson trained = BpeTrainer.Train(TextCorpus.ReadTexts(parse.GetValue(corpusOption)!), vocabSize, minPairCount);
            string output = parse.GetValue(outOption)!;
            TokenizerLoader.Save(output, trained, TokenizerConfig.ForOwnTokenizers);
            var cli = CliOutput.Of(parse);
            cli.Line($"trained {trained.Vocab.Count} tokens (256 bytes, {ChatTokens.OwnSpecialTokens.Count} special, " +
                     $"{trained.Merges.Count} merges) in {clock.Elapsed.TotalSeconds:F1}s -> {output}");
            if (trained.Vocab.Count < vocabSize)
                cli.Note($"{trained.Vocab.Count} of the {vocabSize} ids asked for: the corpus has no more pairs of symbols that occur " +
                         $"--min-pair-count {minPairCount} times or more (a larger corpus, or a lower --min-pair-count, gives more merges)");
            return 0;
        });
        return command;
    }
}
