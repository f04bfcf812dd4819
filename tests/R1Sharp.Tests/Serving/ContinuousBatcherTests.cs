using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Serving;
using R1Sharp.Tests.Model;

namespace R1Sharp.Tests.Serving;

[Collection(R1Sharp.Tests.Server.ServerCollection.Name)]
public class ContinuousBatcherTests
{
    static readonly int[] PromptA = [5, 6, 7];
    static readonly int[] PromptB = [11, 12, 13, 14, 15, 16, 17, 18, 19];
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    static void Submit(ContinuousBatcher batcher, int[] prompt, SamplingOptions options, ISampleSink sink, int n = 1, int seed = 0,
        CancellationToken cancellation = default) => batcher.Submit(new GenerationRequest(prompt, options with { Seed = seed }, n), sink, cancellation);

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public async Task A_request_that_joins_mid_decode_shares_the_steps_and_both_get_their_solo_tokens(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 300 };
        var engine = new GenerationEngine(model);
        var soloA = engine.Generate([new(PromptA, greedy)])[0][0].TokenIds;
        var soloB = engine.Generate([new(PromptB, greedy with { MaxNewTokens = 12 })])[0][0].TokenIds;

        using var batcher = new ContinuousBatcher(model, maxBatch: 4);
        var a = new RecordingSink(holdAt: 4);
        var b = new RecordingSink();
        Submit(batcher, PromptA, greedy, a);
        await a.WaitForTokens(4);
        Submit(batcher, PromptB, greedy with { MaxNewTokens = 12 }, b);
        a.Resume();
        await Task.WhenAll(a.Done, b.Done).WaitAsync(Limit);

        Assert.Equal(soloA, a.Tokens());
        Assert.Equal(soloB, b.Tokens());
        Assert.Equal(FinishReason.Length, a.Reasons[0]);
        Assert.Equal(2, batcher.Stats.LargestBatch);
        // B's 12 tokens came from steps that A's 300 also used: fewer steps than one after the other.
        Assert.True(batcher.Stats.Steps < 300 + 12 - 2, $"{batcher.Stats.Steps} steps");
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_samples_alone_or_in_company()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen2);
        var sampled = new SamplingOptions { Temperature = 1.0, TopP = 1.0, MaxNewTokens = 16 };
        using var batcher = new ContinuousBatcher(model, maxBatch: 8);

        var alone = new RecordingSink(samples: 2);
        Submit(batcher, PromptB, sampled, alone, n: 2, seed: 7);
        await alone.Done.WaitAsync(Limit);

        var company = new RecordingSink(samples: 3, holdAt: 3);
        var again = new RecordingSink(samples: 2);
        var otherSeed = new RecordingSink();
        Submit(batcher, PromptA, sampled with { MaxNewTokens = 30 }, company, n: 3, seed: 1);
        await company.WaitForTokens(3);
        Submit(batcher, PromptB, sampled, again, n: 2, seed: 7);
        Submit(batcher, PromptB, sampled, otherSeed, seed: 8);
        company.Resume();
        await Task.WhenAll(company.Done, again.Done, otherSeed.Done).WaitAsync(Limit);

        Assert.Equal(alone.Tokens(0), again.Tokens(0));
        Assert.Equal(alone.Tokens(1), again.Tokens(1));
        Assert.NotEqual(alone.Tokens(0), alone.Tokens(1));
        Assert.NotEqual(alone.Tokens(0), otherSeed.Tokens(0));
    }

    [Fact]
    public async Task Stop_tokens_and_a_sink_that_asks_to_stop_end_a_sample_with_reason_stop()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 20 };
        var solo = new GenerationEngine(model).Generate([new(PromptA, greedy)])[0][0].TokenIds;
        using var batcher = new ContinuousBatcher(model);
        var sink = new RecordingSink();
        batcher.Submit(new GenerationRequest(PromptA, greedy with { StopTokenIds = [solo[5]] }), sink);
        await sink.Done.WaitAsync(Limit);
        Assert.Equal(solo.Take(solo.ToList().IndexOf(solo[5]) + 1), sink.Tokens());
        Assert.Equal(FinishReason.Stop, sink.Reasons[0]);
    }

    [Fact]
    public async Task A_cancelled_request_frees_its_row_for_the_next_one()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        using var batcher = new ContinuousBatcher(model, maxBatch: 1, maxQueue: 4);
        using var cancel = new CancellationTokenSource();
        var endless = new RecordingSink(holdAt: 3);
        var next = new RecordingSink();
        Submit(batcher, PromptA, new SamplingOptions { Temperature = 0, MaxNewTokens = 2000 }, endless, cancellation: cancel.Token);
        await endless.WaitForTokens(3);
        Submit(batcher, PromptB, new SamplingOptions { Temperature = 0, MaxNewTokens = 5 }, next);
        Assert.Equal(1, batcher.Queued);
        cancel.Cancel();
        endless.Resume();
        await next.Done.WaitAsync(Limit);
        Assert.Equal(5, next.Tokens().Count);
        Assert.True(endless.Tokens().Count < 2000);
        Assert.False(endless.Done.IsCompleted);
    }

    [Fact]
    public async Task A_full_queue_refuses_and_bad_requests_are_named()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        using var batcher = new ContinuousBatcher(model, maxBatch: 1, maxQueue: 1);
        using var cancel = new CancellationTokenSource();
        var running = new RecordingSink(holdAt: 1);
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 1000 };
        Submit(batcher, PromptA, options, running, cancellation: cancel.Token);
        await running.WaitForTokens(1);
        Submit(batcher, PromptA, options, new RecordingSink(), cancellation: cancel.Token);
        Assert.Throws<QueueFullError>(() => Submit(batcher, PromptA, options, new RecordingSink()));
        Assert.Contains("number of samples", Assert.Throws<R1Error>(() => Submit(batcher, PromptA, options, new RecordingSink(2), n: 2)).Message);
        Assert.Throws<ContextLengthError>(() => Submit(batcher, PromptA, options with { MaxNewTokens = 2046 }, new RecordingSink()));
        cancel.Cancel();
        running.Resume();
    }
}
