namespace R1Sharp.Serving;

/// <summary>A prompt plus its completion would not fit in the model's context (HTTP 400 context_length_exceeded).</summary>
public sealed class ContextLengthError : Exception
{
    public ContextLengthError(int contextLength, int promptTokens, int completionTokens)
        : this(contextLength, $"the model's maximum context length is {contextLength} tokens, but {promptTokens + completionTokens} were asked for " +
              $"({promptTokens} in the messages, {completionTokens} in the completion); shorten the messages or max_tokens") { }

    ContextLengthError(int contextLength, string message) : base(message) => ContextLength = contextLength;

    /// <summary>Messages with more text than the context could hold even at the tokenizer's longest tokens, found before tokenizing.</summary>
    public static ContextLengthError TooMuchText(int contextLength, long textBytes, long maxTextBytes) =>
        new(contextLength, $"the model's maximum context length is {contextLength} tokens, and the messages hold {textBytes} bytes of text, " +
            $"more than {contextLength} tokens can (at most {maxTextBytes} bytes with this tokenizer); shorten the messages");

    public int ContextLength { get; }
}
