using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Tasks.Answers;

namespace R1Sharp.Cli.Commands;

/// <summary>
/// `r1 grade --jsonl IN [--out OUT]`: marks each {"prediction", "gold"} line with "correct": true|false. Lines that also
/// carry a label ("expected": true|false, as in a checker corpus) are counted against it (<see cref="CheckerAgreement"/>).
/// </summary>
public static class GradeCommand
{
    // Keep non-ASCII text (a Chinese prediction) readable in the output.
    static readonly JsonSerializerOptions Output = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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
            var graded = Grade(inputPath);
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

    /// <summary>Every line graded, the count graded right, and the agreement with the lines' labels.</summary>
    public static (List<string> Lines, int Correct, CheckerAgreement Labels) Grade(string path)
    {
        var checker = new MathAnswerChecker();
        var lines = new List<string>();
        var labels = new CheckerAgreement();
        int correct = 0;
        foreach (var (lineNumber, record) in JsonlFile.ReadObjects(path))
        {
            bool isCorrect = checker.IsCorrect(Field(record, "prediction", path, lineNumber), Field(record, "gold", path, lineNumber));
            record["correct"] = isCorrect;
            correct += isCorrect ? 1 : 0;
            if (Label(record, path, lineNumber) is { } expected) labels.Add(expected, isCorrect);
            lines.Add(record.ToJsonString(Output));
        }
        return (lines, correct, labels);
    }

    /// <summary>The line's "expected" label, or null when it has none.</summary>
    static bool? Label(JsonObject record, string path, int lineNumber) => record["expected"] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        var other => throw new R1Error($"{path}:{lineNumber}: field 'expected' must be true or false, got {other.ToJsonString()}"),
    };

    /// <summary>A text field; a number (a gold answer of 42) counts as its text.</summary>
    static string Field(JsonObject record, string name, string path, int lineNumber) => record[name] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        null => throw new R1Error($"{path}:{lineNumber}: missing field '{name}'"),
        var other => throw new R1Error($"{path}:{lineNumber}: field '{name}' must be text, got {other.ToJsonString()}"),
    };
}
