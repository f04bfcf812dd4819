using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using R1Sharp.Generation;
using R1Sharp.Serving;
using static R1Sharp.Server.ChatCompletionRequest;

namespace R1Sharp.Server;

/// <summary>
/// POST /v1/completions, OpenAI's completions API as an RL learner uses it with vLLM: the prompt as token ids (or
/// text, tokenized without a chat template), <c>n</c> samples from one seed, and, with vLLM's request option
/// <c>"return_token_ids": true</c>, each choice's sampled <c>token_ids</c> and the <c>prompt_token_ids</c> it continued
/// (vLLM's response fields); <c>"logprobs": 0</c> adds <c>logprobs.token_logprobs</c>, each sampled token's
/// log-probability under the temperature-scaled distribution. "model" names the base or a LoRA adapter served beside it
/// (a GRPO learner's step adapter). Not streamed; no stop strings, echo or suffix.
/// </summary>
public static class CompletionsEndpoint
{
    /// <summary>A parsed request.</summary>
    sealed record Request(string Model, IReadOnlyList<int> Prompt, SamplingOptions Sampling, int N, bool ReturnTokenIds, bool LogProbs);

    public static async Task Handle(HttpContext http, ChatService service)
    {
        using var body = await ChatCompletionsEndpoint.ReadBody(http);
        var request = Parse(body.RootElement, service);
        var job = ChatCompletionsEndpoint.Started(() => service.StartTokens(request.Prompt, request.Sampling, request.N, request.Model, http.RequestAborted), "prompt");
        IReadOnlyList<GeneratedSample> samples;
        try
        {
            samples = await job.Samples.WaitAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw OpenAiError.ServerFailure(e, http.RequestServices.GetRequiredService<ILogger<R1Server>>());
        }
        var tokenizer = service.Bundle.Tokenizer;
        var choices = samples.Select(s =>
        {
            var pieces = s.TokenIds.Select(t => tokenizer.Decode([t])).ToList();
            var offsets = new List<int>();
            int offset = 0;
            foreach (var piece in pieces)
            {
                offsets.Add(offset);
                offset += piece.Length;
            }
            return new Dictionary<string, object?>
            {
                ["index"] = s.SampleIndex,
                ["text"] = tokenizer.Decode(s.TokenIds.Where(t => !service.EndOfTurnIds.Contains(t))),
                ["logprobs"] = request.LogProbs
                    ? new { tokens = pieces, token_logprobs = s.LogProbs, top_logprobs = (object?)null, text_offset = offsets }
                    : null,
                ["finish_reason"] = ChatCompletionsEndpoint.Reason(s.FinishReason),
                ["stop_reason"] = null,
                ["token_ids"] = request.ReturnTokenIds ? s.TokenIds : null,
                ["prompt_token_ids"] = request.ReturnTokenIds ? request.Prompt : null,
            };
        }).ToList();
        int completionTokens = samples.Sum(s => s.TokenIds.Length);
        await http.Response.WriteAsJsonAsync(new
        {
            id = job.Id, @object = "text_completion", created = job.Created.ToUnixTimeSeconds(), model = request.Model, choices,
            usage = new { prompt_tokens = request.Prompt.Count, completion_tokens = completionTokens, total_tokens = request.Prompt.Count + completionTokens },
        }, http.RequestAborted);
    }

    static Request Parse(JsonElement body, ChatService service)
    {
        if (body.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "the request body must be a JSON object");
        var served = service.ModelIds;
        string model = OptionalString(body, "model") ?? served[0];
        if (!served.Contains(model)) throw ChatCompletionRequest.ModelNotFound(model, served);
        var prompt = Prompt(body, service);
        if (OptionalBool(body, "stream") == true) throw Invalid("stream", "is not supported on /v1/completions by this server");
        if (OptionalBool(body, "echo") == true) throw Invalid("echo", "is not supported by this server");
        if (OptionalString(body, "suffix") is { Length: > 0 }) throw Invalid("suffix", "is not supported by this server");
        if (Field(body, "stop") is { } stop && !(stop.ValueKind == JsonValueKind.Array && stop.GetArrayLength() == 0))
            throw Invalid("stop", "is not supported on /v1/completions by this server (the end-of-turn tokens end a completion)");

        int n = OptionalInt(body, "n") ?? 1;
        if (n < 1 || n > service.Options.MaxBatch) throw Invalid("n", $"must be between 1 and {service.Options.MaxBatch} (the server's batch size), got {n}");
        if (OptionalInt(body, "best_of") is int bestOf && bestOf != n) throw Invalid("best_of", "is not supported by this server (only equal to n)");
        int? logprobs = OptionalInt(body, "logprobs");
        if (logprobs is not (null or 0))
            throw Invalid("logprobs", $"must be 0 (each sampled token's log-probability; this server returns no alternatives), got {logprobs}");
        int room = service.ContextLength - prompt.Count;
        int maxTokens = OptionalInt(body, "max_tokens") ?? Math.Min(service.Options.DefaultMaxTokens, Math.Max(1, room));
        if (maxTokens < 1) throw Invalid("max_tokens", $"must be at least 1, got {maxTokens}");
        double temperature = OptionalNumber(body, "temperature") ?? 1.0;
        if (temperature is < 0 or > 2) throw Invalid("temperature", $"must be between 0 and 2, got {temperature}");
        double topP = OptionalNumber(body, "top_p") ?? 1.0;
        if (topP is <= 0 or > 1) throw Invalid("top_p", $"must be greater than 0 and at most 1, got {topP}");
        // vLLM spells "no top-k" -1; 0 means the same here.
        int topK = OptionalInt(body, "top_k") ?? 0;
        if (topK < -1) throw Invalid("top_k", $"must be -1 or 0 (off) or more, got {topK}");
        var sampling = new SamplingOptions
        {
            Temperature = temperature, TopP = topP, TopK = Math.Max(0, topK), MaxNewTokens = maxTokens, Seed = Seed(body),
        };
        return new Request(model, prompt, sampling, n, OptionalBool(body, "return_token_ids") ?? false, logprobs is not null);
    }

    /// <summary>One prompt: an array of token ids, or a string tokenized as it is (no chat template).</summary>
    static IReadOnlyList<int> Prompt(JsonElement body, ChatService service)
    {
        var prompt = Field(body, "prompt") ?? throw new OpenAiError(400, "Missing required parameter: 'prompt'", param: "prompt", code: "missing_required_parameter");
        if (prompt.ValueKind == JsonValueKind.String)
            return service.Bundle.Tokenizer.Encode(OptionalString(body, "prompt")!);
        if (prompt.ValueKind != JsonValueKind.Array || prompt.GetArrayLength() == 0)
            throw Invalid("prompt", "must be a string or a non-empty array of token ids (one prompt per request)");
        if (prompt.GetArrayLength() > service.ContextLength)
            throw OpenAiError.InvalidParam("prompt", $"the prompt has {prompt.GetArrayLength()} tokens, more than the model's context of {service.ContextLength}",
                "context_length_exceeded");
        var ids = new List<int>(prompt.GetArrayLength());
        foreach (var id in prompt.EnumerateArray())
        {
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int token))
                throw Invalid("prompt", "must be a string or an array of integer token ids (one prompt per request)");
            ids.Add(token);
        }
        return ids;
    }
}
