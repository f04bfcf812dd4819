using System.Text.Json.Nodes;
using R1Sharp.Tasks.Answers;
using Xunit.Abstractions;

namespace R1Sharp.Tests.Tasks;

/// <summary>
/// The checker against labelled corpora: 510 GSM8K- and MATH-style pairs (rewrites, near misses and hacks), and the
/// MATH-style corpus that Data/math500/generate.cs builds from our own golds written in MATH-500's answer style
/// (Data/math500/checker-golds.jsonl). No wrong answer may be accepted, and every right one in these corpora is.
/// </summary>
public class CheckerCorpusTests(ITestOutputHelper output)
{
    static readonly string DataDirectory = Path.Combine(AppContext.BaseDirectory, "Data");

    [Fact]
    public void Checker_agrees_with_every_pair_of_the_labelled_corpus()
    {
        var rows = Load("checker-corpus.jsonl");
        int positives = rows.Count(r => (bool)r["expected"]!);
        Assert.True(rows.Count >= 300, $"corpus has {rows.Count} pairs, need at least 300");
        Assert.True(positives >= 100 && rows.Count - positives >= 100, $"corpus needs both kinds: {positives} equivalent, {rows.Count - positives} not");
        AssertAgreement(rows);
    }

    [Fact]
    public void Checker_agrees_with_every_pair_of_the_MATH_style_corpus()
    {
        var rows = Load(Path.Combine("math500", "checker-corpus.jsonl"));
        var golds = Load(Path.Combine("math500", "checker-golds.jsonl"));
        Assert.True(golds.Count >= 200, $"only {golds.Count} golds");
        // Every gold is in the corpus as itself (so the corpus is built from this gold list), and the families the
        // checker must handle are all there.
        var identities = rows.Where(r => (string)r["family"]! == "identity").Select(r => (string)r["gold"]!).ToHashSet();
        Assert.All(golds, g => Assert.Contains((string)g["answer"]!, identities));
        Assert.Equal(golds.Select(g => (string)g["answer"]!).ToHashSet(), rows.Select(r => (string)r["gold"]!).ToHashSet());
        var families = rows.GroupBy(r => ((string)r["family"]!, (bool)r["expected"]!)).ToDictionary(g => g.Key, g => g.Count());
        foreach (var family in new[] { "text", "thousands", "money", "percent", "sqrt", "base", "degrees", "fraction", "mixed number", "decimal",
                     "list", "plus-minus", "terms", "equation", "inequality", "matrix", "unicode" })
            Assert.True(families.GetValueOrDefault((family, true)) >= 5, $"family '{family}' has too few variants");
        foreach (var family in new[] { "another number", "another base", "base ten value", "another word", "dropped sign", "dropped factor",
                     "dropped root", "dropped item", "thousands as list", "list as one number", "swapped items", "flipped interval end",
                     "percent of a percent", "flipped inequality", "strictness", "inverted fraction", "hedge" })
            Assert.True(families.GetValueOrDefault((family, false)) >= 5, $"near-miss family '{family}' has too few rows");
        foreach (var ((family, expected), count) in families.OrderBy(f => f.Key.Item1)) output.WriteLine($"{family,-28} {(expected ? "pass" : "fail")} {count}");
        AssertAgreement(rows);
    }

    static List<JsonObject> Load(string name) =>
        File.ReadLines(Path.Combine(DataDirectory, name)).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    /// <summary>No false accept, no false reject; every disagreement is printed.</summary>
    void AssertAgreement(List<JsonObject> rows)
    {
        var checker = new MathAnswerChecker();
        var agreement = new CheckerAgreement();
        var failures = new List<string>();
        foreach (var row in rows)
        {
            string prediction = (string)row["prediction"]!, gold = (string)row["gold"]!;
            bool expected = (bool)row["expected"]!;
            if (!agreement.Add(expected, checker.IsCorrect(prediction, gold)))
                failures.Add($"expected {expected} ({row["note"] ?? row["family"]}): prediction={prediction.ReplaceLineEndings(" ")} gold={gold.ReplaceLineEndings(" ")}");
        }
        foreach (var failure in failures) output.WriteLine(failure);
        output.WriteLine(agreement.ToString());
        Assert.True(agreement.FalseAccepts == 0, $"{agreement.FalseAccepts} wrong answers accepted:\n{string.Join("\n", failures)}");
        Assert.True(agreement.FalseRejects == 0, $"{agreement.FalseRejects} right answers rejected:\n{string.Join("\n", failures)}");
    }
}
