using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Generation;
using R1Sharp.Serving;
using R1Sharp.Tokenizers;

namespace R1Sharp.Arena;

/// <summary>
/// A model behind an OpenAI-compatible endpoint (r1 serve, vLLM, llama.cpp's server, a hosted API): a streamed POST to
/// <c>{url}/chat/completions</c>. The thinking is read from <c>reasoning_content</c> (DeepSeek's name) or
/// <c>reasoning</c> (vLLM's and OpenRouter's). The API key, if any, only goes into the request's Authorization header:
/// it is never logged, stored or put in a message. What the endpoint sends is bounded (line length, reply length, time).
/// </summary>
public sealed class EndpointContestant(string name, ArenaSampling sampling, Uri url, string model, string? apiKey, HttpClient http)
    : Contestant(name, sampling)
{
    /// <summary>Longest time a reply may take, from the request to its last event.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromMinutes(10);
    /// <summary>Longest event line read.</summary>
    public const int MaxLineBytes = 1 << 20;
    /// <summary>Most characters of thinking plus answer read from one reply.</summary>
    public const int MaxReplyChars = 16 << 20;
    const int MaxErrorBodyChars = 16 << 10;

    readonly Uri completions = new(url.ToString().TrimEnd('/') + "/chat/completions");

    public override async IAsyncEnumerable<ChatUpdate> Reply(IReadOnlyList<ChatMessage> prompt, int? seed, [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(ReplyTimeout);
        using var response = await Send(prompt, seed, deadline.Token, cancellation);
        var events = new BoundedLineReader(await response.Content.ReadAsStreamAsync(deadline.Token), MaxLineBytes, $"contestant '{Name}' ({url})");
        var state = new StreamState();
        while (await NextUpdates(events, state, deadline.Token, cancellation) is { } updates)
            foreach (var update in updates) yield return update;
    }

    sealed class StreamState
    {
        public long Chars;
        public bool Finished;
    }

    async Task<HttpResponseMessage> Send(IReadOnlyList<ChatMessage> prompt, int? seed, CancellationToken deadline, CancellationToken cancellation)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["messages"] = new JsonArray(prompt.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
            ["stream"] = true,
            ["temperature"] = Sampling.Temperature,
            ["top_p"] = Sampling.TopP,
            ["max_tokens"] = Sampling.MaxTokens,
        };
        if (seed is { } s) body["seed"] = s;
        using var request = new HttpRequestMessage(HttpMethod.Post, completions)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline);
        }
        catch (HttpRequestException e)
        {
            throw Failure($"cannot reach {completions}: {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellation.IsCancellationRequested)
        {
            throw Failure($"no answer within {ReplyTimeout.TotalMinutes:0} minutes", e);
        }
        if (!response.IsSuccessStatusCode)
        {
            string message = await ErrorMessage(response, deadline);
            response.Dispose();
            throw Failure($"HTTP {(int)response.StatusCode} from {completions}: {message}");
        }
        if (response.Content.Headers.ContentType?.MediaType is not "text/event-stream")
        {
            response.Dispose();
            throw Failure($"{completions} answered with '{response.Content.Headers.ContentType?.MediaType}', not a text/event-stream; is it OpenAI-compatible?");
        }
        return response;
    }

    /// <summary>The updates of the next event of the stream; null once it has ended.</summary>
    async Task<List<ChatUpdate>?> NextUpdates(BoundedLineReader events, StreamState state, CancellationToken deadline, CancellationToken cancellation)
    {
        while (true)
        {
            string? line;
            try
            {
                line = await events.ReadLineAsync(deadline);
            }
            catch (OperationCanceledException e) when (!cancellation.IsCancellationRequested)
            {
                throw Failure($"the reply took longer than {ReplyTimeout.TotalMinutes:0} minutes", e);
            }
            catch (IOException e)
            {
                throw Failure($"the connection broke: {e.Message}", e);
            }
            catch (HttpRequestException e)
            {
                throw Failure($"the connection broke: {e.Message}", e);
            }
            if (line is null)
            {
                if (state.Finished) return null;
                throw Failure("the event stream ended before the reply finished");
            }
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue; // comments, event names, blank separators
            string data = line[5..].TrimStart();
            if (data == "[DONE]")
            {
                // A server that sends no finish_reason has still finished.
                return state.Finished ? null : [new ChatUpdate(0, "", "", FinishReason.Stop)];
            }
            var updates = Parse(data);
            foreach (var update in updates)
            {
                state.Chars += update.ReasoningDelta.Length + update.ContentDelta.Length;
                state.Finished |= update.Finish is not null;
            }
            if (state.Chars > MaxReplyChars) throw Failure($"the reply is longer than {MaxReplyChars:N0} characters");
            if (updates.Count > 0) return updates;
        }
    }

    /// <summary>One chunk: its first choice's thinking and answer deltas, and its finish reason.</summary>
    List<ChatUpdate> Parse(string data)
    {
        JsonNode? chunk;
        try
        {
            chunk = JsonNode.Parse(data);
        }
        catch (JsonException e)
        {
            throw Failure($"an event is not JSON ({e.Message})", e);
        }
        if (chunk is not JsonObject obj) throw Failure("an event is not a JSON object");
        if (obj["error"] is JsonNode error) throw Failure($"the endpoint reported an error: {ErrorText(error)}");
        if (obj["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice) return [];
        var delta = choice["delta"] as JsonObject;
        string reasoning = Text(delta?["reasoning_content"]) ?? Text(delta?["reasoning"]) ?? "";
        string content = Text(delta?["content"]) ?? "";
        FinishReason? finish = Text(choice["finish_reason"]) switch
        {
            null => null,
            "length" => FinishReason.Length,
            _ => FinishReason.Stop,
        };
        var updates = new List<ChatUpdate>();
        if (reasoning.Length > 0 || content.Length > 0) updates.Add(new ChatUpdate(0, reasoning, content));
        if (finish is not null) updates.Add(new ChatUpdate(0, "", "", finish));
        return updates;
    }

    static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    static string ErrorText(JsonNode error) =>
        UntrustedText.Printable((error is JsonObject o ? Text(o["message"]) : null) ?? Text(error) ?? error.ToJsonString(), 300);

    /// <summary>What a failed request's body says: OpenAI's error message if it has one, else the start of the text.</summary>
    static async Task<string> ErrorMessage(HttpResponseMessage response, CancellationToken cancellation)
    {
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation), Encoding.UTF8);
            var buffer = new char[MaxErrorBodyChars];
            int read = await reader.ReadBlockAsync(buffer, cancellation);
            string text = new(buffer, 0, read);
            try
            {
                if (JsonNode.Parse(text) is JsonObject { } body && body["error"] is JsonNode error) return ErrorText(error);
            }
            catch (JsonException)
            {
            }
            return UntrustedText.Printable(text.Trim(), 300);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            return "(no readable body)";
        }
    }

    R1Error Failure(string problem, Exception? inner = null) => new($"contestant '{Name}' ({url}): {problem}", inner);
}
