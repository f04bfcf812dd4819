using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Answers;

namespace R1Sharp.Evaluation;

/// <summary>A finished evaluation: the summary and every graded completion.</summary>
public sealed record EvalResult(EvalReport Report, IReadOnlyList<ScoredSample> Samples)
{
    /// <summary>`r1 eval`'s output: the summary to &lt;outDir&gt;/eval.json, every graded completion to &lt;outDir&gt;/samples.jsonl.</summary>
    public void Save(string outDir)
    {
        Directory.CreateDirectory(outDir);
        Report.Save(Path.Combine(outDir, "eval.json"));
        ScoredSample.WriteJsonl(Path.Combine(outDir, "samples.jsonl"), Samples);
    }
}

/// <summary>
/// Grades generations and computes R1's metrics. The caller (the `r1 eval` command) only generates: for each
/// prompt k samples (and optionally a greedy one), then calls <see cref="Evaluate"/>.
/// </summary>
public static class Evaluator
{
    /// <summary>`r1 grade`: each {"prediction", "gold"} line of a JSONL file (other fields kept) with "correct": true|false
    /// from the math answer checker, how many were correct, and the agreement with the lines' "expected" labels (a
    /// checker corpus). A bad line is an error naming file, line and field.</summary>
    public static (List<string> Lines, int Correct, CheckerAgreement Labels) GradeJsonl(string path)
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
            lines.Add(JsonlFile.Line(record));
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

    /// <param name="task">Grades completions (IsCorrect) and gives the answers cons@k votes on (VoteKey).</param>
    /// <param name="templateOpenedThink">The chat template opened &lt;think&gt; before generation.</param>
    public static EvalResult Evaluate(IVerifiableTask task, IReadOnlyList<PromptSamples> prompts, EvalSettings? settings = null,
        bool templateOpenedThink = false)
    {
        if (prompts.Count == 0) throw new R1Error("evaluation needs at least one prompt");
        var empty = prompts.FirstOrDefault(p => p.Samples.Count == 0);
        if (empty is not null) throw new R1Error($"prompt '{empty.PromptId}' has no samples");

        int k = prompts.Min(p => p.Samples.Count);
        var ks = PassAtK.ReportedKs(k);
        var passAtK = ks.ToDictionary(kk => kk, _ => 0.0);
        double passAt1 = 0, consAtK = 0, greedyCorrect = 0;
        long tokens = 0, sampleCount = 0, hitLimit = 0, noAnswer = 0;
        var scored = new List<ScoredSample>();

        foreach (var prompt in prompts)
        {
            var answers = new List<string?>();
            var correct = new List<bool>();
            for (int i = 0; i < prompt.Samples.Count; i++)
            {
                var sample = prompt.Samples[i];
                string? answer = task.VoteKey(sample.Completion, templateOpenedThink);
                bool isCorrect = task.IsCorrect(sample.Completion, prompt.Gold, templateOpenedThink);
                answers.Add(answer);
                correct.Add(isCorrect);
                scored.Add(new ScoredSample(prompt.PromptId, prompt.Prompt, i, false, prompt.Gold, answer, isCorrect, sample.TokenCount, sample.HitLimit, sample.Completion));
                tokens += sample.TokenCount;
                hitLimit += sample.HitLimit ? 1 : 0;
                noAnswer += answer is null ? 1 : 0;
                sampleCount++;
            }

            int n = prompt.Samples.Count, c = correct.Count(x => x);
            passAt1 += (double)c / n;
            foreach (var kk in ks) passAtK[kk] += PassAtK.Unbiased(n, c, kk);
            if (MajorityVote.Winner(answers) is { } winner && correct[winner]) consAtK++;

            if (prompt.Greedy is { } greedy)
            {
                bool greedyIsCorrect = task.IsCorrect(greedy.Completion, prompt.Gold, templateOpenedThink);
                greedyCorrect += greedyIsCorrect ? 1 : 0;
                scored.Add(new ScoredSample(prompt.PromptId, prompt.Prompt, null, true, prompt.Gold,
                    task.VoteKey(greedy.Completion, templateOpenedThink), greedyIsCorrect, greedy.TokenCount, greedy.HitLimit, greedy.Completion));
            }
        }

        int count = prompts.Count;
        var report = new EvalReport
        {
            Task = task.Name,
            Prompts = count,
            SamplesPerPrompt = k,
            PassAt1 = passAt1 / count,
            PassAtK = passAtK.ToDictionary(kv => kv.Key, kv => kv.Value / count),
            ConsAtK = consAtK / count,
            GreedyAccuracy = prompts.All(p => p.Greedy is not null) ? greedyCorrect / count : null,
            MeanResponseTokens = (double)tokens / sampleCount,
            HitLimitShare = (double)hitLimit / sampleCount,
            NoAnswerShare = (double)noAnswer / sampleCount,
            Settings = settings,
        };
        return new EvalResult(report, scored);
    }
}

/// <summary>One generation for a prompt: its text, its length in tokens, and whether it stopped at the token limit.</summary>
public sealed record EvalSample(string Completion, int TokenCount, bool HitLimit);

/// <summary>
/// What evaluation needs for one prompt: its id, the gold answer, k sampled completions, optionally the greedy
/// (temperature 0) completion, and the prompt's text as the model saw it (for samples.jsonl).
/// </summary>
public sealed record PromptSamples(string PromptId, string Gold, IReadOnlyList<EvalSample> Samples, EvalSample? Greedy = null, string? Prompt = null);
