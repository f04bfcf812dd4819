using System.Text;
using System.Text.Json;
using R1Sharp.Serving;
using R1Sharp.Tokenizers;

namespace R1Sharp.Server;

/// <summary>
/// The body of POST /v1/chat/completions, checked field by field; a bad field becomes a 400 naming it (as OpenAI's
/// "param"). Fields this server cannot honour (tools, logprobs, penalties) are refused rather than ignored, except at
/// their neutral values; fields it does not know are ignored, as OpenAI-compatible servers do.
/// </summary>
public sealed record ChatCompletionRequest(ChatRequest Chat, string Model, bool Stream, bool IncludeUsage)
{
    /// <summary>OpenAI's limit on stop sequences.</summary>
    public const int MaxStopSequences = 4;

    static readonly string[] Roles = ["system", "developer", "user", "assistant"];

    /// <param name="servedModels">The names "model" may hold: the base's first (the default), then each LoRA adapter's.</param>
    public static ChatCompletionRequest Parse(JsonElement body, IReadOnlyList<string> servedModels, int maxChoices)
    {
        if (body.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "the request body must be a JSON object");

        string model = OptionalString(body, "model") ?? servedModels[0];
        if (!servedModels.Contains(model)) throw ModelNotFound(model, servedModels);

        var messages = Messages(body);
        bool stream = OptionalBool(body, "stream") ?? false;
        bool includeUsage = false;
        if (Field(body, "stream_options") is { } streamOptions)
        {
            if (streamOptions.ValueKind != JsonValueKind.Object) throw Invalid("stream_options", "must be an object");
            if (!stream) throw Invalid("stream_options", "is only allowed when stream is true");
            includeUsage = OptionalBool(streamOptions, "include_usage", "stream_options.include_usage") ?? false;
        }

        int? maxTokens = OptionalInt(body, "max_completion_tokens") ?? OptionalInt(body, "max_tokens");
        if (maxTokens is < 1)
            throw Invalid(Field(body, "max_completion_tokens") is not null ? "max_completion_tokens" : "max_tokens", $"must be at least 1, got {maxTokens}");
        double? temperature = OptionalNumber(body, "temperature");
        if (temperature is < 0 or > 2) throw Invalid("temperature", $"must be between 0 and 2, got {temperature}");
        double? topP = OptionalNumber(body, "top_p");
        if (topP is <= 0 or > 1) throw Invalid("top_p", $"must be greater than 0 and at most 1, got {topP}");
        int? topK = OptionalInt(body, "top_k");
        if (topK is < 0) throw Invalid("top_k", $"must be at least 0, got {topK}");
        int n = OptionalInt(body, "n") ?? 1;
        if (n < 1 || n > maxChoices) throw Invalid("n", $"must be between 1 and {maxChoices} (the server's batch size), got {n}");
        int? seed = Seed(body);

        RefuseUnlessNeutral(body);
        var chat = new ChatRequest(messages)
        {
            Temperature = temperature, TopP = topP, TopK = topK, MaxTokens = maxTokens, Seed = seed, Stop = Stops(body), N = n, Model = model,
        };
        return new ChatCompletionRequest(chat, model, stream, includeUsage);
    }

    /// <summary>The request's seed. Seeds may use the whole 64-bit range; the sampler takes 32 bits of it (all of an
    /// unsigned 32-bit seed, as clients send them).</summary>
    internal static int? Seed(JsonElement body) => OptionalLong(body, "seed") is long wide ? unchecked((int)(wide ^ (wide >> 32))) : null;

    static List<ChatMessage> Messages(JsonElement body)
    {
        var messages = Field(body, "messages") ?? throw new OpenAiError(400, "Missing required parameter: 'messages'", param: "messages", code: "missing_required_parameter");
        if (messages.ValueKind != JsonValueKind.Array) throw Invalid("messages", "must be an array of messages");
        if (messages.GetArrayLength() == 0) throw Invalid("messages", "must contain at least one message", "empty_array");
        var result = new List<ChatMessage>();
        int i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object) throw Invalid(at, "must be an object with a role and content");
            string role = OptionalString(message, "role", $"{at}.role") ?? throw Invalid($"{at}.role", "is required");
            if (!Roles.Contains(role))
                throw Invalid($"{at}.role", $"'{role}' is not supported; supported roles are {string.Join(", ", Roles.Select(r => $"'{r}'"))}");
            // "developer" is OpenAI's newer name for system instructions. An assistant turn's reasoning_content (or
            // reasoning) is not read: R1's template sends earlier turns' answers only.
            result.Add(new ChatMessage(role == "developer" ? "system" : role, Content(message, at, role)));
        }
        return result;
    }

    /// <summary>A message's text: a string, or an array of {"type": "text", "text": ...} parts joined.</summary>
    static string Content(JsonElement message, string at, string role)
    {
        var content = Field(message, "content");
        if (content is null) return role == "assistant" ? "" : throw Invalid($"{at}.content", "is required");
        if (content.Value.ValueKind == JsonValueKind.String) return Text(content.Value, $"{at}.content");
        if (content.Value.ValueKind != JsonValueKind.Array) throw Invalid($"{at}.content", "must be a string or an array of text parts");
        var text = new StringBuilder();
        int j = 0;
        foreach (var part in content.Value.EnumerateArray())
        {
            string partAt = $"{at}.content[{j++}]";
            string type = part.ValueKind == JsonValueKind.Object ? OptionalString(part, "type", $"{partAt}.type") ?? "" : "";
            if (type != "text") throw Invalid($"{partAt}.type", $"only text parts are supported, got '{type}'");
            text.Append(OptionalString(part, "text", $"{partAt}.text") ?? throw Invalid($"{partAt}.text", "is required"));
        }
        return text.ToString();
    }

    static List<string> Stops(JsonElement body)
    {
        var stop = Field(body, "stop");
        if (stop is null) return [];
        if (stop.Value.ValueKind == JsonValueKind.String) return [Text(stop.Value, "stop")];
        if (stop.Value.ValueKind != JsonValueKind.Array || stop.Value.EnumerateArray().Any(s => s.ValueKind != JsonValueKind.String))
            throw Invalid("stop", "must be a string or an array of strings");
        if (stop.Value.GetArrayLength() > MaxStopSequences) throw Invalid("stop", $"may hold at most {MaxStopSequences} sequences");
        return stop.Value.EnumerateArray().Select((s, i) => Text(s, $"stop[{i}]")).ToList();
    }

    /// <summary>Options this server does not implement are accepted only where they change nothing.</summary>
    static void RefuseUnlessNeutral(JsonElement body)
    {
        foreach (string penalty in new[] { "frequency_penalty", "presence_penalty" })
        {
            double? value = OptionalNumber(body, penalty);
            if (value is < -2 or > 2) throw Invalid(penalty, $"must be between -2 and 2, got {value}");
            if (value is not (null or 0)) throw Invalid(penalty, "is not supported by this server (only 0)");
        }
        if (OptionalBool(body, "logprobs") == true) throw Invalid("logprobs", "is not supported by this server");
        if (Field(body, "tools") is { ValueKind: JsonValueKind.Array } tools && tools.GetArrayLength() > 0)
            throw Invalid("tools", "tool calling is not supported by this server");
        if (Field(body, "response_format") is { } format && (format.ValueKind != JsonValueKind.Object || OptionalString(format, "type", "response_format.type") != "text"))
            throw Invalid("response_format", "only {\"type\": \"text\"} is supported by this server");
    }

    /// <summary>404 model_not_found for a "model" this server does not serve, listing the names it does.</summary>
    internal static OpenAiError ModelNotFound(string model, IReadOnlyList<string> servedModels) =>
        new(404, $"The model '{UntrustedText.Printable(model)}' does not exist; this server serves {string.Join(", ", servedModels.Select(m => $"'{m}'"))}",
            param: "model", code: "model_not_found");

    internal static OpenAiError Invalid(string param, string problem, string? code = null) =>
        OpenAiError.InvalidParam(param, $"Invalid '{param}': {problem}.", code ?? "invalid_value");

    /// <summary>The field, or null when it is absent or JSON null.</summary>
    internal static JsonElement? Field(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    internal static string? OptionalString(JsonElement obj, string name, string? param = null)
    {
        var value = Field(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind == JsonValueKind.String ? Text(value.Value, param ?? name) : throw Invalid(param ?? name, "must be a string", "invalid_type");
    }

    /// <summary>A JSON string's text. JSON may escape a lone surrogate ("\ud800") and a body may hold bytes that are
    /// not UTF-8; neither is text, and the request says which field holds it.</summary>
    static string Text(JsonElement value, string param)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Invalid(param, "is not valid Unicode text (a lone surrogate escape such as \\ud800, or bytes that are not UTF-8)", "invalid_encoding");
        }
    }

    internal static bool? OptionalBool(JsonElement obj, string name, string? param = null)
    {
        var value = Field(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(param ?? name, "must be a boolean", "invalid_type"),
        };
    }

    internal static double? OptionalNumber(JsonElement obj, string name)
    {
        var value = Field(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind == JsonValueKind.Number ? value.Value.GetDouble() : throw Invalid(name, "must be a number", "invalid_type");
    }

    internal static int? OptionalInt(JsonElement obj, string name) => OptionalLong(obj, name) switch
    {
        null => null,
        >= int.MinValue and <= int.MaxValue and var number => (int)number,
        var number => throw Invalid(name, $"is out of range, got {number}"),
    };

    internal static long? OptionalLong(JsonElement obj, string name)
    {
        var value = Field(obj, name);
        if (value is null) return null;
        return value.Value.ValueKind == JsonValueKind.Number && value.Value.TryGetInt64(out long number)
            ? number : throw Invalid(name, "must be an integer", "invalid_type");
    }
}
