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
        var input = OptionFactory.Required<string>("--jsonl", "Input JSONL, one {\"prediction\": ..., \"gold\": ...} object per line");
        var output = OptionFactory.Optional<string>("--out", "Where to write the graded lines (default: stdout)");
        var command = new Command("grade", "Grade predictions against gold answers with the math answer checker");
        command.Options.Add(input);
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            string inputPath = parse.GetValue(input)!;
            string? outputPath = parse.GetValue(output);
            // Grade everything before writing, so a bad line leaves no partial output behind.
            var graded = Evaluator.GradeJsonl(inputPath);
            if (outputPath is null)
                foreach (var line in graded.Lines) Console.Out.WriteLine(line);
            else
                AtomicFile.WriteAllText(outputPath, string.Concat(graded.Lines.Select(l => l + "\n")));
            double share = graded.Lines.Count == 0 ? 0 : (double)graded.Correct / graded.Lines.Count;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"graded {graded.Lines.Count} predictions: {graded.Correct} correct ({100 * share:F1}%)"));
            if (graded.Labels.Pairs > 0) Console.Error.WriteLine(graded.Labels);
            return 0;
        });
        return command;
    }
}
