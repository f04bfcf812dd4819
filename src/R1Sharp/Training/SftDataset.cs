using R1Sharp.Checkpoints;
using R1Sharp.Tokenizers;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

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

/// <summary>One supervised example: the rendered prompt and the assistant's response, as token ids.</summary>
public sealed record SftExample(int[] Prompt, int[] Response)
{
    /// <summary>
    /// Right-padded rows where only response tokens are targets (loss on assistant tokens only).
    /// Rows longer than <paramref name="maxLength"/> are cut from the end.
    /// </summary>
    public static TrainingBatch Collate(IReadOnlyList<SftExample> examples, int maxLength, int padId, Device device)
    {
        int width = Math.Min(maxLength, examples.Max(e => e.Prompt.Length + e.Response.Length) - 1);
        var inputs = new long[examples.Count * width];
        var targets = new long[examples.Count * width];
        var mask = new long[examples.Count * width];
        Array.Fill(inputs, padId);
        Array.Fill(targets, LanguageModelLoss.IgnoreIndex);
        for (int b = 0; b < examples.Count; b++)
        {
            var e = examples[b];
            var tokens = e.Prompt.Concat(e.Response).ToArray();
            int n = Math.Min(width, tokens.Length - 1);
            for (int t = 0; t < n; t++)
            {
                inputs[b * width + t] = tokens[t];
                mask[b * width + t] = 1;
                if (t + 1 >= e.Prompt.Length) targets[b * width + t] = tokens[t + 1];
            }
        }
        return new TrainingBatch(tensor(inputs, device: device).view(examples.Count, width),
            tensor(targets, device: device).view(examples.Count, width), tensor(mask, device: device).view(examples.Count, width));
    }
}

/// <summary>SFT batches: examples drawn in a seeded shuffle (a new one each epoch), padded, loss on responses only.</summary>
public sealed class SftBatchSource(IReadOnlyList<SftExample> examples, int batchSize, int maxLength, int padId, ulong seed) : IBatchSource
{
    ShuffledSampler sampler = new(examples.Count, seed);

    public TrainingBatch Next(Device device) =>
        SftExample.Collate(sampler.Next(batchSize).Select(i => examples[i]).ToList(), maxLength, padId, device);

    public DataPosition Position => new() { Sampler = sampler.State };

    public void Seek(DataPosition position) =>
        sampler = ShuffledSampler.FromState(examples.Count, position.Sampler ?? throw new R1Error("an SFT data position needs a sampler state"));
}
