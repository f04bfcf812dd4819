using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Tokenizers;

namespace R1Sharp.Training;

/// <summary>
/// Chat-format SFT data: JSONL lines {"messages": [..., {"role": "assistant", "content": ...}]} (as `SftData` and most
/// hubs write them) or {"prompt": ..., "response"|"completion": ...}. The prompt is every turn before the last
/// assistant turn, rendered with the model's template; the response is that turn (minus the "&lt;think&gt;\n" the
/// template already opened) plus EOS — the only tokens that carry loss.
/// </summary>
public static class SftDataset
{
    public static List<SftExample> Load(string path, ModelBundle bundle)
    {
        var examples = new List<SftExample>();
        foreach (var (lineNumber, record) in JsonlFile.ReadObjects(path))
        {
            var (prompt, response) = Split(record, $"{path}:{lineNumber}");
            examples.Add(Encode(bundle, prompt, response));
        }
        if (examples.Count == 0) throw new R1Error($"{path}: no examples");
        return examples;
    }

    public static SftExample Encode(ModelBundle bundle, IReadOnlyList<ChatMessage> prompt, string response)
    {
        string opened = bundle.Template.OpensThink ? ChatTokens.ThinkStart + "\n" : "";
        if (opened.Length > 0 && response.StartsWith(opened, StringComparison.Ordinal)) response = response[opened.Length..];
        var promptIds = bundle.EncodeChat(prompt).ToArray();
        var responseIds = bundle.Tokenizer.Encode(response).ToList();
        if (bundle.Tokenizer.EosId is int eos) responseIds.Add(eos);
        return new SftExample(promptIds, responseIds.ToArray());
    }

    static (List<ChatMessage>, string) Split(JsonObject record, string where)
    {
        string Text(JsonNode? node, string field) => node is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw new R1Error($"{where}: field '{field}' must be a string");
        if (record["messages"] is JsonArray messages)
        {
            var turns = messages.Select((m, i) => m is JsonObject o
                ? new ChatMessage(Text(o["role"], $"messages[{i}].role"), Text(o["content"], $"messages[{i}].content"))
                : throw new R1Error($"{where}: messages[{i}] must be an object")).ToList();
            int last = turns.FindLastIndex(t => t.Role == "assistant");
            if (last < 0) throw new R1Error($"{where}: messages has no assistant turn to learn");
            return (turns.Take(last).ToList(), turns[last].Content);
        }
        if (record["prompt"] is null) throw new R1Error($"{where}: missing field 'messages' (or 'prompt' and 'response')");
        var response = record["response"] ?? record["completion"] ?? throw new R1Error($"{where}: missing field 'response'");
        return ([new ChatMessage("user", Text(record["prompt"], "prompt"))], Text(response, "response"));
    }
}
