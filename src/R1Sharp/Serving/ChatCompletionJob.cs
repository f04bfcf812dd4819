using System.Threading.Channels;
using R1Sharp.Generation;
using R1Sharp.Tokenizers;

namespace R1Sharp.Serving;

/// <summary>
/// A running chat completion: the batcher's tokens for each choice become <see cref="ChatUpdate"/>s in
/// <see cref="Updates"/>, which completes when every choice has ended (or fails with the batcher's error).
/// </summary>
public sealed class ChatCompletionJob : ISampleSink
{
    readonly CompletionDecoder[] choices;
    readonly Channel<ChatUpdate> updates = Channel.CreateUnbounded<ChatUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    int running;

    public ChatCompletionJob(string id, int promptTokens, int n, ITextTokenizer tokenizer, bool thinkOpenedByTemplate, IReadOnlyList<string> stopStrings)
    {
        Id = id;
        PromptTokens = promptTokens;
        choices = Enumerable.Range(0, n).Select(_ => new CompletionDecoder(tokenizer, thinkOpenedByTemplate, stopStrings)).ToArray();
        running = n;
        Created = DateTimeOffset.UtcNow;
    }

    /// <summary>"chatcmpl-…", the same on every chunk of a stream.</summary>
    public string Id { get; }
    public DateTimeOffset Created { get; }
    public int PromptTokens { get; }
    public int Choices => choices.Length;
    public ChannelReader<ChatUpdate> Updates => updates.Reader;

    /// <summary>Token counts so far; final once <see cref="Updates"/> has completed.</summary>
    public ChatUsage Usage => new(PromptTokens, choices.Sum(c => c.Tokens), choices.Sum(c => c.ReasoningTokens));

    bool ISampleSink.OnToken(int sample, int tokenId, float logProb, bool last)
    {
        var decoder = choices[sample];
        var (reasoning, content) = decoder.Add(tokenId);
        Write(sample, reasoning, content);
        return decoder.Stopped;
    }

    void ISampleSink.OnFinished(int sample, FinishReason reason)
    {
        var (reasoning, content) = choices[sample].Finish();
        Write(sample, reasoning, content);
        updates.Writer.TryWrite(new ChatUpdate(sample, "", "", reason));
        if (Interlocked.Decrement(ref running) == 0) updates.Writer.TryComplete();
    }

    void ISampleSink.OnFailed(Exception error) => updates.Writer.TryComplete(error);

    void Write(int sample, string reasoning, string content)
    {
        if (reasoning.Length > 0 || content.Length > 0) updates.Writer.TryWrite(new ChatUpdate(sample, reasoning, content));
    }
}
