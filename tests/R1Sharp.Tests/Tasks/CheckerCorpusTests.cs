using System.Text.Json.Nodes;
using R1Sharp.Tasks.Answers;
using Xunit.Abstractions;

namespace R1Sharp.Tests.Tasks;

/// <summary>The checker against a labelled corpus of GSM8K- and MATH-style answers: rewrites, near misses and hacks.</summary>
public class CheckerCorpusTests(ITestOutputHelper output)
{
    static readonly string CorpusPath = Path.Combine(AppContext.BaseDirectory, "Data", "checker-corpus.jsonl");

    [Fact]
    public void Checker_agrees_with_at_least_99_percent_of_the_labelled_corpus()
    {
        var checker = new MathAnswerChecker();
        var rows = File.ReadLines(CorpusPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        int positives = rows.Count(r => (bool)r["expected"]!);
        Assert.True(rows.Count >= 300, $"corpus has {rows.Count} pairs, need at least 300");
        Assert.True(positives >= 100 && rows.Count - positives >= 100, $"corpus needs both kinds: {positives} equivalent, {rows.Count - positives} not");

        var failures = new List<string>();
        foreach (var row in rows)
        {
            string prediction = (string)row["prediction"]!, gold = (string)row["gold"]!;
            bool expected = (bool)row["expected"]!;
            if (checker.IsCorrect(prediction, gold) != expected)
                failures.Add($"expected {expected} ({row["note"]}): prediction={prediction.ReplaceLineEndings(" ")} gold={gold.ReplaceLineEndings(" ")}");
        }
        foreach (var failure in failures) output.WriteLine(failure);
        double agreement = 1.0 - (double)failures.Count / rows.Count;
        output.WriteLine($"agreement {agreement:P2} on {rows.Count} pairs");
        Assert.True(agreement >= 0.99, $"agreement {agreement:P2} < 99%:\n{string.Join("\n", failures)}");
    }
}
