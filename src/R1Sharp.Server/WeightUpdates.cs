using System.Text.Json;
using Microsoft.AspNetCore.Http;
using R1Sharp.Serving;
using static R1Sharp.Server.ChatCompletionRequest;

namespace R1Sharp.Server;

/// <summary>
/// POST /update_weights_from_disk, SGLang's endpoint and JSON: <c>{"model_path": DIR, "weight_version": "12"}</c> loads
/// the checkpoint in DIR (same architecture) between two decoding steps and answers <c>{"success": true, "message": …,
/// "weight_version": "12"}</c>; GET /health then reports that weight_version. A GRPO learner syncs its replicas this way
/// (docs/scale-out.md). Only when `r1 serve --allow-weight-updates` (else 403), and behind the API key when one is set.
/// </summary>
public static class WeightUpdates
{
    public const string Path = "/update_weights_from_disk";

    public static async Task Handle(HttpContext http, ChatService service, bool allowed)
    {
        if (!allowed)
            throw new OpenAiError(403, "This server does not take weight updates; start it with --allow-weight-updates", code: "weight_updates_disabled");
        using var body = await ChatCompletionsEndpoint.ReadBody(http);
        if (body.RootElement.ValueKind != JsonValueKind.Object) throw new OpenAiError(400, "the request body must be a JSON object");
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
}
