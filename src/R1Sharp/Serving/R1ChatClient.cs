using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using R1Sharp.Generation;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using R1ChatMessage = R1Sharp.Tokenizers.ChatMessage;

namespace R1Sharp.Serving;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a model in this process. The thinking arrives as
/// <see cref="TextReasoningContent"/>, the answer as <see cref="TextContent"/>; the last update carries the finish
/// reason and a <see cref="UsageContent"/>. Reasoning in earlier assistant messages is not sent back to the model,
/// as R1's chat template drops it. Concurrent calls share decoding steps through the service's batcher.
/// </summary>
public sealed class R1ChatClient : IChatClient
{
    readonly ChatService service;
    readonly bool ownsService;
    readonly ChatClientMetadata metadata;

    /// <param name="service">Shared with other clients (or the HTTP server); not disposed by this client.</param>
    public R1ChatClient(ChatService service) : this(service, ownsService: false) { }

    R1ChatClient(ChatService service, bool ownsService)
    {
        this.service = service;
        this.ownsService = ownsService;
        metadata = new ChatClientMetadata("r1sharp", providerUri: null, service.ModelId);
    }

    /// <summary>Loads a model directory or .gguf file; the client owns the model and frees it on <see cref="Dispose"/>.</summary>
    public static R1ChatClient Load(string modelDir, ServingOptions? options = null) => new(ChatService.Load(modelDir, options), ownsService: true);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ToRequest(messages, options);
        var job = service.Start(request, cancellationToken);
        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents)
        {
            ResponseId = job.Id, MessageId = job.Id, CreatedAt = job.Created, ModelId = request.Model ?? service.ModelId,
        };
        await foreach (var update in job.Updates.ReadAllAsync(cancellationToken))
        {
            var contents = new List<AIContent>();
            if (update.ReasoningDelta.Length > 0) contents.Add(new TextReasoningContent(update.ReasoningDelta));
            if (update.ContentDelta.Length > 0) contents.Add(new TextContent(update.ContentDelta));
            if (update.Finish is { } finish)
            {
                var usage = job.Usage;
                contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = usage.PromptTokens, OutputTokenCount = usage.CompletionTokens,
                    TotalTokenCount = usage.TotalTokens, ReasoningTokenCount = usage.ReasoningTokens,
                }));
                var last = Update(contents);
                last.FinishReason = finish == FinishReason.Stop ? ChatFinishReason.Stop : ChatFinishReason.Length;
                yield return last;
            }
            else if (contents.Count > 0) yield return Update(contents);
        }
    }

    ChatRequest ToRequest(IEnumerable<AIChatMessage> messages, ChatOptions? options)
    {
        if (options?.Tools is { Count: > 0 }) throw new R1Error("tools are not supported by R1ChatClient");
        var turns = new List<R1ChatMessage>();
        if (options?.Instructions is { Length: > 0 } instructions) turns.Add(new R1ChatMessage("system", instructions));
        foreach (var message in messages)
        {
            string role = message.Role == ChatRole.System ? "system"
                : message.Role == ChatRole.User ? "user"
                : message.Role == ChatRole.Assistant ? "assistant"
                : throw new R1Error($"chat role '{message.Role}' is not supported (system, user, assistant)");
            // Text only: an assistant message's TextReasoningContent is left out on purpose.
            turns.Add(new R1ChatMessage(role, message.Text));
        }
        return new ChatRequest(turns)
        {
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            TopK = options?.TopK,
            MaxTokens = options?.MaxOutputTokens,
            Seed = options?.Seed is long seed ? unchecked((int)seed) : null,
            Stop = options?.StopSequences?.ToList() ?? [],
            Model = options?.ModelId, // the base's name or a served LoRA adapter's; another is refused by the service
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? metadata
        : serviceType.IsInstanceOfType(service) ? service
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (ownsService) service.Dispose();
    }
}
