using System.CommandLine;
using System.Globalization;
using R1Sharp.Evaluation;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// `r1 grade --jsonl IN [--out OUT]`: marks each {"prediction", "gold"} line with "correct": true|false. Lines that also
/// carry a label ("expected": true|false, as in a checker corpus) are counted against it (<see cref="Tasks.Answers.CheckerAgreement"/>).
/// </summary>
public static class GradeCommand
{
    public static Command Create()
    {
        var input = OptionFactory.RequiredPath("--jsonl", "Input JSONL, one {\"prediction\": ..., \"gold\": ...} object per line");
        var output = OptionFactory.OptionalPath("--out", "Where to write the graded lines (default: standard output, the summary then on standard error)");
        var command = new Command("grade", "Grade predictions against gold answers with the math answer checker");
        command.Options.Add(input);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            string inputPath = parse.GetValue(input)!;
            string? outputPath = parse.GetValue(output);
            // Grade everything before writing, so a bad line leaves no partial output behind.
            var graded = Evaluator.GradeJsonl(inputPath);
            var cli = CliOutput.Of(parse);
            if (outputPath is null)
                foreach (var line in graded.Lines) cli.Out.WriteLine(line);
            else
                AtomicFile.WriteAllText(outputPath, string.Concat(graded.Lines.Select(l => l + "\n")));
            // The summary is a result too, but when the graded lines fill standard output it goes to standard error,
            // so that output stays pure JSON lines.
            var summary = outputPath is null ? cli.Err : cli.Out;
            double share = graded.Lines.Count == 0 ? 0 : (double)graded.Correct / graded.Lines.Count;
            summary.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"graded {graded.Lines.Count} predictions: {graded.Correct} correct ({100 * share:F1}%){(outputPath is null ? "" : $" -> {outputPath}")}"));
            if (graded.Labels.Pairs > 0) summary.WriteLine(graded.Labels);
            return 0;
        });
        return command;
    }
}
