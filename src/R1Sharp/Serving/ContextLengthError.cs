namespace R1Sharp.Serving;

/// <summary>A prompt plus its completion would not fit in the model's context (HTTP 400 context_length_exceeded).</summary>
public sealed class ContextLengthError(int contextLength, int promptTokens, int completionTokens)
    : Exception($"the model's maximum context length is {contextLength} tokens, but {promptTokens + completionTokens} were asked for " +
              $"({promptTokens} in the messages, {completionTokens} in the completion); shorten the messages or max_tokens")
{
    public int ContextLength => contextLength;
}
