#pragma warning disable SCME0001 // JsonPatch reads fields the SDK has no property for (reasoning_content)
#pragma warning disable OPENAI001 // Seed
using System.ClientModel;
using System.Text.Json;
using OpenAI.Chat;
using OpenAI.Models;

namespace R1Sharp.Tests.Server;

/// <summary>The server through the official OpenAI .NET SDK, as a developer would call it.</summary>
[Collection(ServerCollection.Name)]
public class OpenAiSdkTests(ServerFixture servers)
{
    static readonly ChatMessage[] Question = [new UserChatMessage("What is 2+2?")];
    static ChatCompletionOptions Greedy(int maxTokens = 120) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    [Fact]
    public async Task The_model_list_names_the_served_model()
    {
        var models = new OpenAIModelClient(new ApiKeyCredential("x"), new OpenAI.OpenAIClientOptions { Endpoint = new Uri(servers.Reasoning.BaseAddress, "v1") });
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal("reasoning", Assert.Single(list).Id);
        Assert.Equal("r1sharp", list[0].OwnedBy);
    }

    [Fact]
    public async Task A_completion_carries_the_thinking_in_reasoning_content_and_the_answer_in_content()
    {
        var chat = ServerFixture.OpenAiChat(servers.Reasoning);
        var completion = (await chat.CompleteChatAsync(Question, Greedy())).Value;

        Assert.Equal(ServerTestModels.Answer, Assert.Single(completion.Content).Text);
        Assert.True(completion.Patch.TryGetValue("$.choices[0].message.reasoning_content"u8, out string? reasoningContent));
        Assert.True(completion.Patch.TryGetValue("$.choices[0].message.reasoning"u8, out string? reasoning));
        Assert.Equal(ServerTestModels.Reasoning, reasoningContent);
        Assert.Equal(ServerTestModels.Reasoning, reasoning);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal("reasoning", completion.Model);

        int reasoningTokens = ServerTestModels.Reasoning.Length + 1; // byte-level tokens, and "</think>"
        Assert.Equal(reasoningTokens + ServerTestModels.Answer.Length + 1, completion.Usage.OutputTokenCount);
        Assert.Equal(reasoningTokens, completion.Usage.OutputTokenDetails.ReasoningTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 10);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task A_stream_sends_reasoning_deltas_then_content_deltas_then_the_finish_reason_and_usage()
    {
        var chat = ServerFixture.OpenAiChat(servers.Reasoning);
        var reasoning = "";
        var content = "";
        var order = new List<char>();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        string? id = null;
        await foreach (var update in chat.CompleteChatStreamingAsync(Question, Greedy()))
        {
            id ??= update.CompletionId;
            Assert.Equal(id, update.CompletionId);
            if (update.Patch.TryGetValue("$.choices[0].delta.reasoning_content"u8, out string? r) && r is not null)
            {
                reasoning += r;
                order.Add('r');
            }
            foreach (var part in update.ContentUpdate)
                if (part.Text.Length > 0)
                {
                    content += part.Text;
                    order.Add('c');
                }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(ServerTestModels.Reasoning, reasoning);
        Assert.Equal(ServerTestModels.Answer, content);
        Assert.True(order.Count > 20, "token by token, not in one piece");
        Assert.Equal(order.OrderBy(c => c == 'c'), order);
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(ServerTestModels.Reasoning.Length + 1, usage!.OutputTokenDetails.ReasoningTokenCount);
    }

    [Fact]
    public async Task Max_tokens_ends_with_length_and_the_same_seed_gives_the_same_sample()
    {
        var chat = ServerFixture.OpenAiChat(servers.Random);
        ChatCompletionOptions Sampled(long seed) => new() { Temperature = 1, TopP = 1, Seed = seed, MaxOutputTokenCount = 12 };
        var a = (await chat.CompleteChatAsync(Question, Sampled(5))).Value;
        var b = (await chat.CompleteChatAsync(Question, Sampled(5))).Value;
        var c = (await chat.CompleteChatAsync(Question, Sampled(6))).Value;
        Assert.Equal(Said(a), Said(b));
        Assert.NotEqual(Said(a), Said(c));
        Assert.Equal(ChatFinishReason.Length, a.FinishReason);
        Assert.Equal(12, a.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_answer_before_it()
    {
        var chat = ServerFixture.OpenAiChat(servers.Reasoning);
        var options = Greedy();
        options.StopSequences.Add("**");
        var completion = (await chat.CompleteChatAsync(Question, options)).Value;
        Assert.Equal("The answer is ", Assert.Single(completion.Content).Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
    }

    [Fact]
    public async Task Errors_reach_the_sdk_with_their_status_and_openai_shape()
    {
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => ServerFixture.OpenAiChat(servers.Reasoning, model: "gpt-4o").CompleteChatAsync(Question));
        Assert.Equal(404, unknown.Status);
        var error = ServerFixture.Error(unknown.GetRawResponse()!.Content.ToString());
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());

        var hot = await Assert.ThrowsAsync<ClientResultException>(() => ServerFixture.OpenAiChat(servers.Reasoning).CompleteChatAsync(Question, new ChatCompletionOptions { Temperature = 3 }));
        Assert.Equal(400, hot.Status);
        error = ServerFixture.Error(hot.GetRawResponse()!.Content.ToString());
        Assert.Equal("temperature", error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    /// <summary>Everything the model said: the random model's noise may or may not close its thinking.</summary>
    static string Said(ChatCompletion completion) =>
        (completion.Patch.TryGetValue("$.choices[0].message.reasoning_content"u8, out string? thought) ? thought : "") +
        string.Concat(completion.Content.Select(p => p.Text));
}
