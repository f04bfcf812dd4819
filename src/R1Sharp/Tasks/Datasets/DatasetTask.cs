using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using R1Sharp.Tasks.Answers;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks.Datasets;

/// <summary>
/// Problems read from a .jsonl or .parquet file in GSM8K, MATH or generic layout (see <see cref="DatasetLayout"/>),
/// graded by <see cref="MathAnswerChecker"/>. A file is one split: <see cref="Examples"/> returns its records in file
/// order whatever split or seed is asked. A missing field or bad record is an <see cref="R1Error"/> naming file,
/// line (or row) and field.
/// </summary>
public sealed partial class DatasetTask : IVerifiableTask
{
    static readonly MathAnswerChecker Checker = new();

    [GeneratedRegex(@"<<[^<>]*>>")] private static partial Regex CalculatorAnnotation();
    [GeneratedRegex(@"\d+")] private static partial Regex LevelNumber();

    public string Name { get; }
    public DatasetLayout Layout { get; }
    public IReadOnlyList<TaskExample> All { get; }

    DatasetTask(string name, DatasetLayout layout, IReadOnlyList<TaskExample> examples) => (Name, Layout, All) = (name, layout, examples);

    public static DatasetTask Load(string path, DatasetOptions? options = null)
    {
        options ??= new DatasetOptions();
        string name = Path.GetFileNameWithoutExtension(path);
        var layout = options.Layout;
        var examples = new List<TaskExample>();
        foreach (var row in DatasetRows.Read(path))
        {
            if (layout == DatasetLayout.Auto) layout = Detect(row);
            examples.Add(layout switch
            {
                DatasetLayout.Gsm8k => Gsm8k(row, name, examples.Count, options),
                DatasetLayout.Math => MathProblem(row, name, examples.Count, options),
                _ => Generic(row, name, examples.Count),
            });
        }
        if (examples.Count == 0) throw new R1Error($"{path}: no records");
        return new DatasetTask(name, layout, examples);
    }

    public IEnumerable<TaskExample> Examples(TaskSplit split, int seed) => All;

    public bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) =>
        Checker.IsCorrect(completion, reference, templateOpenedThink);

    public string? VoteKey(string completion, bool templateOpenedThink = false) => Checker.VoteKey(completion, templateOpenedThink);

    static DatasetLayout Detect(DatasetRow row)
    {
        var f = row.Fields;
        if (f.ContainsKey("question") && f.ContainsKey("answer")) return DatasetLayout.Gsm8k;
        if (f.ContainsKey("problem")) return DatasetLayout.Math;
        if (f.ContainsKey("prompt") || f.ContainsKey("messages")) return DatasetLayout.Generic;
        throw new R1Error($"{row.Location}: can't tell the dataset layout from fields [{string.Join(", ", f.Select(kv => kv.Key))}]; "
            + "expected GSM8K (question, answer), MATH (problem, solution or answer) or generic (prompt or messages, answer)");
    }

    static TaskExample Gsm8k(DatasetRow row, string name, int index, DatasetOptions options)
    {
        string question = Text(row, "question", "GSM8K")!;
        string answer = Text(row, "answer", "GSM8K")!;
        int hashes = answer.LastIndexOf("####", StringComparison.Ordinal);
        if (hashes < 0) throw new R1Error($"{row.Location}: field 'answer' has no final '#### N' line (GSM8K layout)");
        string gold = answer[(hashes + 4)..].Trim();
        if (gold.Length == 0) throw new R1Error($"{row.Location}: field 'answer' has an empty '####' line (GSM8K layout)");
        string reasoning = CalculatorAnnotation().Replace(answer[..hashes], "").Trim();
        return new TaskExample(Id(row, name, index), [ChatMessage.User($"{question}\n{options.Instruction}")], gold, 0, WorkedSolution(reasoning, gold));
    }

    static TaskExample MathProblem(DatasetRow row, string name, int index, DatasetOptions options)
    {
        string problem = Text(row, "problem", "MATH")!;
        string? solution = Text(row, "solution", "MATH", required: false);
        string? gold = Text(row, "answer", "MATH", required: false);
        if (gold is null)
        {
            if (solution is null) throw new R1Error($"{row.Location}: missing field 'answer' (MATH layout needs 'answer' or a 'solution' with \\boxed{{}})");
            var boxed = AnswerExtractor.Boxed(solution);
            if (boxed.Count == 0) throw new R1Error($"{row.Location}: field 'solution' has no \\boxed{{}} answer and there is no 'answer' field (MATH layout)");
            gold = boxed[^1];
        }
        int level = row.Fields["level"] is { } levelNode && LevelNumber().Match(levelNode.ToString()) is { Success: true } m ? int.Parse(m.Value) : 0;
        return new TaskExample(Id(row, name, index), [ChatMessage.User($"{problem}\n{options.Instruction}")], gold, level,
            solution is null ? null : WorkedSolution(solution, gold));
    }

    static TaskExample Generic(DatasetRow row, string name, int index)
    {
        string answer = Text(row, "answer", "generic")!;
        IReadOnlyList<ChatMessage> prompt;
        if (row.Fields["messages"] is { } messages) prompt = Messages(row, messages);
        else prompt = [ChatMessage.User(Text(row, "prompt", "generic: 'prompt' or 'messages'")!)];
        return new TaskExample(Id(row, name, index), prompt, answer, 0);
    }

    static List<ChatMessage> Messages(DatasetRow row, JsonNode messages)
    {
        if (messages is not JsonArray array || array.Count == 0)
            throw new R1Error($"{row.Location}: field 'messages' must be a non-empty list of {{role, content}}");
        var result = new List<ChatMessage>();
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject message
                || message["role"] is not JsonValue role || role.GetValueKind() != JsonValueKind.String
                || message["content"] is not JsonValue content || content.GetValueKind() != JsonValueKind.String)
                throw new R1Error($"{row.Location}: field 'messages[{i}]' must have string 'role' and 'content'");
            result.Add(new ChatMessage(role.GetValue<string>(), content.GetValue<string>()));
        }
        return result;
    }

    /// <summary>A text field; numbers are accepted as their text (answers like 42).</summary>
    static string? Text(DatasetRow row, string field, string layout, bool required = true)
    {
        var node = row.Fields[field];
        if (node is null)
            return required ? throw new R1Error($"{row.Location}: missing field '{field}' ({layout} layout)") : null;
        if (node is JsonValue value && value.GetValueKind() is JsonValueKind.String or JsonValueKind.Number)
        {
            string text = value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : value.ToJsonString();
            if (!string.IsNullOrWhiteSpace(text)) return text;
        }
        throw new R1Error($"{row.Location}: field '{field}' must be non-empty text, got {node.ToJsonString()} ({layout} layout)");
    }

    static string Id(DatasetRow row, string name, int index) =>
        row.Fields["unique_id"]?.ToString() ?? row.Fields["id"]?.ToString() ?? $"{name}-{index + 1}";

    static string WorkedSolution(string reasoning, string answer) =>
        $"{ChatTokens.ThinkStart}\n{reasoning}\n{ChatTokens.ThinkEnd}\n\\boxed{{{answer}}}";
}
