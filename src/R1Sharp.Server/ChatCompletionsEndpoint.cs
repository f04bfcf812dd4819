using System.Text;
using System.Text.Json;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using R1Sharp.Generation;
using R1Sharp.Serving;

namespace R1Sharp.Server;

/// <summary>
/// POST /v1/chat/completions. The thinking goes to "reasoning_content" (DeepSeek's name) and to "reasoning" (vLLM's
/// and OpenRouter's), in the message and in stream deltas; the answer goes to "content". A stream is server-sent
/// events: "data: {chunk}" per delta, the finish reason on each choice's last chunk, the usage chunk when
/// stream_options.include_usage asks for it, then "data: [DONE]".
/// </summary>
public static class ChatCompletionsEndpoint
{
    static readonly JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task Handle(HttpContext http, ChatService service)
    {
        using var body = await ReadBody(http);
        var request = ChatCompletionRequest.Parse(body.RootElement, service.ModelIds, service.Options.MaxBatch);
        // The request's abort token: a client that goes away stops its generation and frees its rows.
        var job = Started(() => service.Start(request.Chat, http.RequestAborted), "messages");
        // Responses name the model the request asked for: the base, or a LoRA adapter served beside it.
        if (request.Stream) await Stream(http, request.Model, job, request.IncludeUsage);
        else await Complete(http, request.Model, job);
    }

    /// <summary>A job started, or why not as OpenAI says it: 429 when the queue is full, 404 when its model is not (or no
    /// longer) served, 400 naming
    /// <paramref name="promptParam"/> when the prompt does not fit the context, 400 for any other bad request.</summary>
    internal static T Started<T>(Func<T> start, string promptParam)
    {
        try
        {
            return start();
        }
        catch (QueueFullError e)
        {
            throw new OpenAiError(429, e.Message, "rate_limit_error", code: "queue_full");
        }
        catch (ModelNotServedError e)
        {
            // Unloaded between the request's check and its start.
            throw new OpenAiError(404, e.Message, param: "model", code: "model_not_found");
        }
        catch (ContextLengthError e)
        {
            throw OpenAiError.InvalidParam(promptParam, e.Message, "context_length_exceeded");
        }
        catch (R1Error e)
        {
            throw new OpenAiError(400, e.Message);
        }
    }

    /// <summary>
    /// The JSON body. It must be declared as JSON: a web page can send any site a "simple" text/plain or form POST
    /// without asking, but an application/json one only after a CORS preflight, which this server never grants.
    /// </summary>
    internal static async Task<JsonDocument> ReadBody(HttpContext http)
    {
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
            || !string.Equals(type.MediaType, "application/json", StringComparison.OrdinalIgnoreCase)
            || type.CharSet is { } charset && !string.Equals(charset.Trim('"'), "utf-8", StringComparison.OrdinalIgnoreCase))
            throw new OpenAiError(415, $"The request body must be JSON sent with 'Content-Type: application/json', got '{Truncate(http.Request.ContentType ?? "")}'",
                code: "unsupported_media_type");
        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new OpenAiError(400, $"We could not parse the JSON body of your request: {e.Message}", code: "invalid_json");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new OpenAiError(413, $"The request body is larger than this server accepts: {e.Message}", code: "request_too_large");
        }
    }

    static string Truncate(string text) => text.Length <= 100 ? text : text[..97] + "...";

    static async Task Complete(HttpContext http, string model, ChatCompletionJob job)
    {
        var reasoning = Enumerable.Range(0, job.Choices).Select(_ => new StringBuilder()).ToArray();
        var content = Enumerable.Range(0, job.Choices).Select(_ => new StringBuilder()).ToArray();
        var finish = new FinishReason?[job.Choices];
        await foreach (var update in Updates(http, job))
        {
            reasoning[update.Choice].Append(update.ReasoningDelta);
            content[update.Choice].Append(update.ContentDelta);
            finish[update.Choice] ??= update.Finish;
        }
        var choices = Enumerable.Range(0, job.Choices).Select(i =>
        {
            string? thought = reasoning[i].Length > 0 ? reasoning[i].ToString() : null;
            // A reasoning that never closed leaves no answer: content is null, as in DeepSeek's API.
            string? answer = content[i].Length > 0 || thought is null ? content[i].ToString() : null;
            return new
            {
                index = i,
                message = new { role = "assistant", content = answer, reasoning_content = thought, reasoning = thought },
                logprobs = (object?)null,
                finish_reason = Reason(finish[i]),
            };
        });
        await http.Response.WriteAsJsonAsync(new
        {
            id = job.Id, @object = "chat.completion", created = job.Created.ToUnixTimeSeconds(), model,
            system_fingerprint = (string?)null, choices, usage = Usage(job.Usage),
        }, Json, http.RequestAborted);
    }

    static async Task Stream(HttpContext http, string model, ChatCompletionJob job, bool includeUsage)
    {
        BeginEventStream(http.Response);
        long created = job.Created.ToUnixTimeSeconds();
        Task Send(object payload) => WriteEvent(http, JsonSerializer.Serialize(payload, Json));
        object Chunk(int index, object delta, FinishReason? finish) => includeUsage
            ? (object)new { id = job.Id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null,
                    choices = new[] { new { index, delta, logprobs = (object?)null, finish_reason = Reason(finish) } }, usage = (object?)null }
            : new { id = job.Id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null,
                    choices = new[] { new { index, delta, logprobs = (object?)null, finish_reason = Reason(finish) } } };
        try
        {
            for (int i = 0; i < job.Choices; i++) await Send(Chunk(i, new { role = "assistant", content = "" }, null));
            await foreach (var update in Updates(http, job))
            {
                if (update.Finish is { } finish) await Send(Chunk(update.Choice, new { }, finish));
                else if (update.ReasoningDelta.Length > 0 && update.ContentDelta.Length > 0)
                    await Send(Chunk(update.Choice, new { reasoning_content = update.ReasoningDelta, reasoning = update.ReasoningDelta, content = update.ContentDelta }, null));
                else if (update.ReasoningDelta.Length > 0)
                    await Send(Chunk(update.Choice, new { reasoning_content = update.ReasoningDelta, reasoning = update.ReasoningDelta }, null));
                else await Send(Chunk(update.Choice, new { content = update.ContentDelta }, null));
            }
            if (includeUsage)
                await Send(new { id = job.Id, @object = "chat.completion.chunk", created, model, system_fingerprint = (string?)null,
                                 choices = Array.Empty<object>(), usage = Usage(job.Usage) });
        }
        catch (OpenAiError e)
        {
            // The status line is gone; the error travels as an event, as OpenAI-compatible servers do mid-stream.
            await Send(e.Body);
        }
        await WriteEvent(http, "[DONE]");
    }

    /// <summary>The job's updates; a failure of its generation becomes a 500 in OpenAI's shape (<see cref="OpenAiError.ServerFailure"/>).</summary>
    static async IAsyncEnumerable<ChatUpdate> Updates(HttpContext http, ChatCompletionJob job)
    {
        var reader = job.Updates;
        while (true)
        {
            try
            {
                if (!await reader.WaitToReadAsync(http.RequestAborted)) yield break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw OpenAiError.ServerFailure(e, http.RequestServices.GetRequiredService<ILogger<R1Server>>());
            }
            while (reader.TryRead(out var update)) yield return update;
        }
    }

    /// <summary>Makes the response a stream of server-sent events that no proxy holds back.</summary>
    internal static void BeginEventStream(HttpResponse response)
    {
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    internal static async Task WriteEvent(HttpContext http, string data)
    {
        await http.Response.WriteAsync($"data: {data}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    internal static string? Reason(FinishReason? finish) => finish switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => null,
    };

    static object Usage(ChatUsage usage) => new
    {
        prompt_tokens = usage.PromptTokens,
        completion_tokens = usage.CompletionTokens,
        total_tokens = usage.TotalTokens,
        completion_tokens_details = new { reasoning_tokens = usage.ReasoningTokens },
    };
}
