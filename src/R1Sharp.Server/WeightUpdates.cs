using System.Text.Json;
using Microsoft.AspNetCore.Http;
using R1Sharp.Serving;
using static R1Sharp.Server.ChatCompletionRequest;

namespace R1Sharp.Server;

/// <summary>
/// What a GRPO learner changes on a running server (docs/scale-out.md), only when `r1 serve --allow-weight-updates`
/// (else 403: whoever reaches these could make the server read and serve any folder it can read), and behind the API
/// key when one is set:
/// <list type="bullet">
/// <item>POST /update_weights_from_disk, SGLang's endpoint and JSON: <c>{"model_path": DIR, "weight_version": "12"}</c>
/// loads the checkpoint in DIR (same architecture) between two decoding steps and answers <c>{"success": true,
/// "message": …, "weight_version": "12"}</c>; GET /health then reports that weight_version.</item>
/// <item>POST /v1/load_lora_adapter and POST /v1/unload_lora_adapter, vLLM's runtime LoRA API (which vLLM enables with
/// VLLM_ALLOW_RUNTIME_LORA_UPDATING): <c>{"lora_name": NAME, "lora_path": DIR}</c> serves the PEFT adapter in DIR under
/// NAME; <c>{"lora_name": NAME}</c> stops serving it. Both answer 200 with vLLM's plain-text "Success: …".</item>
/// </list>
/// </summary>
public static class WeightUpdates
{
    public const string Path = "/update_weights_from_disk";
    public const string LoadAdapterPath = "/v1/load_lora_adapter";
    public const string UnloadAdapterPath = "/v1/unload_lora_adapter";

    public static async Task Handle(HttpContext http, ChatService service, bool allowed)
    {
        using var body = await Body(http, allowed);
        string dir = OptionalString(body.RootElement, "model_path")
            ?? throw new OpenAiError(400, "Missing required parameter: 'model_path'", param: "model_path", code: "missing_required_parameter");
        string? version = Field(body.RootElement, "weight_version") is { ValueKind: JsonValueKind.Number } number
            ? number.GetRawText() : OptionalString(body.RootElement, "weight_version");
        try
        {
            await service.ReloadWeightsAsync(dir, version);
        }
        catch (R1Error e)
        {
            throw OpenAiError.InvalidParam("model_path", e.Message, "invalid_model_path");
        }
        await http.Response.WriteAsJsonAsync(new { success = true, message = $"loaded {dir}", weight_version = version }, http.RequestAborted);
    }

    /// <summary>
    /// vLLM's load: 400 when lora_name or lora_path is missing, when the name is served already (vLLM's answer; this
    /// server has no load_inplace) or when the folder is not an adapter of this model (the message names the problem).
    /// </summary>
    public static async Task LoadAdapter(HttpContext http, ChatService service, bool allowed)
    {
        using var body = await Body(http, allowed);
        string? name = OptionalString(body.RootElement, "lora_name"), dir = OptionalString(body.RootElement, "lora_path");
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(dir))
            throw new OpenAiError(400, "Both 'lora_name' and 'lora_path' must be provided.", code: "missing_required_parameter");
        if (OptionalBool(body.RootElement, "load_inplace") == true)
            throw Invalid("load_inplace", "is not supported by this server: unload the adapter, then load it again (or under a new name)");
        try
        {
            await service.LoadAdapterAsync(name, dir);
        }
        catch (AdapterNameError e)
        {
            throw OpenAiError.InvalidParam("lora_name", e.Message, "invalid_lora_name");
        }
        catch (R1Error e)
        {
            throw OpenAiError.InvalidParam("lora_path", e.Message, "invalid_lora_path");
        }
        await Success(http, $"Success: LoRA adapter '{name}' added successfully.");
    }

    /// <summary>vLLM's unload: 400 without lora_name, 404 when no adapter of that name is served; answers once the
    /// adapter's last running request is done and it is freed.</summary>
    public static async Task UnloadAdapter(HttpContext http, ChatService service, bool allowed)
    {
        using var body = await Body(http, allowed);
        string name = OptionalString(body.RootElement, "lora_name") is { Length: > 0 } given ? given
            : throw new OpenAiError(400, "'lora_name' needs to be provided to unload a LoRA adapter.", code: "missing_required_parameter");
        if (!await service.UnloadAdapterAsync(name))
            throw new OpenAiError(404, $"The lora adapter '{UntrustedText.Printable(name)}' cannot be found.", "NotFoundError", "lora_name", "adapter_not_found");
        await Success(http, $"Success: LoRA adapter '{name}' removed successfully.");
    }

    /// <summary>The request's JSON object, once the server takes updates.</summary>
    static async Task<JsonDocument> Body(HttpContext http, bool allowed)
    {
        if (!allowed)
            throw new OpenAiError(403, "This server does not take weight updates; start it with --allow-weight-updates", code: "weight_updates_disabled");
        var body = await ChatCompletionsEndpoint.ReadBody(http);
        if (body.RootElement.ValueKind != JsonValueKind.Object)
        {
            body.Dispose();
            throw new OpenAiError(400, "the request body must be a JSON object");
        }
        return body;
    }

    /// <summary>200 with vLLM's plain-text answer.</summary>
    static Task Success(HttpContext http, string message)
    {
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(message, http.RequestAborted);
    }
}
