using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace R1Sharp.Server;

/// <summary>
/// An error the way OpenAI's API reports it: an HTTP status and {"error": {"message", "type", "param", "code"}}.
/// Thrown anywhere in a request, it is written by <see cref="R1Server"/>'s error handler.
/// </summary>
public sealed class OpenAiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status => status;
    public string Type => type;
    public string? Param => param;
    public string? Code => code;

    public static OpenAiError InvalidParam(string param, string message, string? code = null) => new(400, message, param: param, code: code);

    /// <summary>
    /// A 500 for a failure inside the server. Our own errors (<see cref="R1Error"/>: non-finite logits, a request that
    /// cannot run) say what happened; anything else may carry native stack frames and paths, so the client gets a
    /// generic message and the details go to the server's log.
    /// </summary>
    public static OpenAiError ServerFailure(Exception error, ILogger log)
    {
        if (error is R1Error mine) return new(500, $"generation failed: {mine.Message}", "server_error");
        log.LogError(error, "request failed");
        return new(500, "the server failed to process this request; its log has the details", "server_error");
    }

    public object Body => new { error = new { message = Message, type, param, code } };

    public Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = status;
        return response.WriteAsJsonAsync(Body, JsonOptions);
    }

    static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = null };
}
