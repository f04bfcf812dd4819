using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Sharp.Tokenizers;

/// <summary>
/// Chat requests as JSONL, one per line: <c>{"messages": [...], "add_generation_prompt": true|false, ...}</c>, where
/// every other key (tools, enable_thinking, date_string, …) is a template variable, as apply_chat_template's extra
/// keyword arguments are. Each comes back as the same object plus "rendered" (the template's text) and "ids" (that
/// text encoded with special-token text as special ids), which is what transformers'
/// <c>apply_chat_template(messages, add_generation_prompt=…, tokenize=True, **kwargs)</c> returns.
/// </summary>
public static class ChatJsonl
{
    public static IEnumerable<JsonObject> Tokenize(string path, ChatTemplate template, ITextTokenizer tokenizer, TimeProvider? clock = null)
    {
        if (!File.Exists(path)) throw new R1Error($"chat JSONL file not found: {path}");
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{path}:{lineNumber}";
            JsonObject request = Parse(line, where);
            var (messages, addGenerationPrompt, variables) = Split(request, where);
            string rendered;
            try
            {
                rendered = template.RenderJinja(messages, addGenerationPrompt, variables, clock);
            }
            catch (R1Error e)
            {
                throw new R1Error($"{where}: {e.Message}", e);
            }
            JsonObject result = request.DeepClone().AsObject();
            result["rendered"] = rendered;
            result["ids"] = new JsonArray([.. tokenizer.Encode(rendered).Select(id => (JsonNode)id)]);
            yield return result;
        }
    }

    static JsonObject Parse(string line, string where)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject ?? throw new R1Error($"{where}: expected a JSON object with \"messages\"");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{where}: not valid JSON ({e.Message})", e);
        }
    }

    static (JsonArray Messages, bool AddGenerationPrompt, JsonObject Variables) Split(JsonObject request, string where)
    {
        if (request["messages"] is not JsonArray messages)
            throw new R1Error($"{where}: \"messages\" must be a list of {{\"role\", \"content\"}} objects");
        for (int i = 0; i < messages.Count; i++)
            if (messages[i] is not JsonObject message || message["role"] is not JsonValue role || role.GetValueKind() != JsonValueKind.String)
                throw new R1Error($"{where}: \"messages\"[{i}] must be an object with a string \"role\"");
        bool addGenerationPrompt = request["add_generation_prompt"] switch
        {
            null => false,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            var v => throw new R1Error($"{where}: \"add_generation_prompt\" must be true or false, not {v.ToJsonString()}"),
        };
        if (request.ContainsKey("chat_template"))
            throw new R1Error($"{where}: \"chat_template\" cannot be chosen per line (the tokenizer's own template is used)");
        if (request["continue_final_message"] is JsonValue c && c.GetValueKind() != JsonValueKind.False)
            throw new R1Error($"{where}: \"continue_final_message\" is not supported");
        var variables = new JsonObject();
        foreach (var (key, value) in request)
            if (key is not ("messages" or "add_generation_prompt" or "continue_final_message" or "rendered" or "ids"))
                variables[key] = value?.DeepClone();
        return ((JsonArray)messages.DeepClone(), addGenerationPrompt, variables);
    }
}
