using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Generation;

public class GenerationEngineTests
{
    static readonly SamplingOptions Greedy = new() { Temperature = 0, MaxNewTokens = 10 };
    static readonly int[] ShortPrompt = [5, 6, 7];
    static readonly int[] LongPrompt = [11, 12, 13, 14, 15, 16, 17];

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void A_padded_batch_gives_the_same_tokens_as_one_by_one(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var engine = new GenerationEngine(model);
        var together = engine.Generate([new(ShortPrompt, Greedy), new(LongPrompt, Greedy)]);
        var aloneShort = engine.Generate([new(ShortPrompt, Greedy)]);
        var aloneLong = engine.Generate([new(LongPrompt, Greedy)]);
        Assert.Equal(aloneShort[0][0].TokenIds, together[0][0].TokenIds);
        Assert.Equal(aloneLong[0][0].TokenIds, together[1][0].TokenIds);
        Assert.Equal(10, together[0][0].TokenIds.Length);
        Assert.Equal(FinishReason.Length, together[0][0].FinishReason);
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Greedy_tokens_and_log_probs_match_a_full_forward(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        var sample = new GenerationEngine(model).Generate([new(LongPrompt, Greedy)])[0][0];
        using var _ = no_grad();
        var all = LongPrompt.Concat(sample.TokenIds).Select(i => (long)i).ToArray();
        var logProbs = model.Forward(tensor(all).unsqueeze(0)).log_softmax(-1)[0];
        for (int i = 0; i < sample.TokenIds.Length; i++)
        {
            var row = logProbs[LongPrompt.Length - 1 + i];
            Assert.Equal(row.argmax().item<long>(), sample.TokenIds[i]);
            Assert.Equal(row[sample.TokenIds[i]].item<float>(), sample.LogProbs[i], 3);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_tokens_and_a_different_seed_different_ones()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var engine = new GenerationEngine(model);
        SamplingOptions Sampled(int seed) => new() { Temperature = 1.0, TopP = 1.0, MaxNewTokens = 20, Seed = seed };
        var a = engine.Generate([new(ShortPrompt, Sampled(42))])[0][0].TokenIds;
        var b = engine.Generate([new(ShortPrompt, Sampled(42))])[0][0].TokenIds;
        var c = engine.Generate([new(ShortPrompt, Sampled(43))])[0][0].TokenIds;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Samples_of_one_prompt_share_a_prefill_and_differ_from_each_other()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen2);
        var engine = new GenerationEngine(model);
        var greedy = engine.Generate([new(LongPrompt, Greedy, NumSamples: 3)])[0];
        Assert.Equal(3, greedy.Count);
        Assert.All(greedy, s => Assert.Equal(greedy[0].TokenIds, s.TokenIds));

        var sampled = engine.Generate([new(LongPrompt, new SamplingOptions { Temperature = 1.0, TopP = 1.0, MaxNewTokens = 16, Seed = 1 }, NumSamples: 4)])[0];
        Assert.True(sampled.Select(s => string.Join(",", s.TokenIds)).Distinct().Count() > 1);
    }

    [Fact]
    public void Top_k_of_one_is_greedy_and_min_p_of_one_is_greedy()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var engine = new GenerationEngine(model);
        var greedy = engine.Generate([new(ShortPrompt, Greedy)])[0][0].TokenIds;
        var topK = engine.Generate([new(ShortPrompt, Greedy with { Temperature = 1.5, TopK = 1, Seed = 3 })])[0][0].TokenIds;
        var minP = engine.Generate([new(ShortPrompt, Greedy with { Temperature = 1.5, MinP = 1.0, Seed = 3 })])[0][0].TokenIds;
        Assert.Equal(greedy, topK);
        Assert.Equal(greedy, minP);
    }

    [Fact]
    public void A_stop_token_ends_a_sample_and_is_kept()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var engine = new GenerationEngine(model);
        var free = engine.Generate([new(ShortPrompt, Greedy)])[0][0];
        int stop = free.TokenIds[3];
        var stopped = engine.Generate([new(ShortPrompt, Greedy with { StopTokenIds = [stop] })])[0][0];
        int firstStop = Array.IndexOf(free.TokenIds, stop);
        Assert.Equal(free.TokenIds.Take(firstStop + 1), stopped.TokenIds);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public void Streaming_reports_every_token_in_order_and_marks_the_last()
    {
        using var model = TinyModels.Create(ModelFamily.DeepseekV3);
        var engine = new GenerationEngine(model);
        var events = new List<TokenEvent>();
        var result = engine.Generate([new(ShortPrompt, Greedy with { MaxNewTokens = 6 }, NumSamples: 2)], events.Add);
        for (int s = 0; s < 2; s++)
        {
            var mine = events.Where(e => e.SampleIndex == s).ToList();
            Assert.Equal(result[0][s].TokenIds, mine.Select(e => e.TokenId));
            Assert.True(mine[^1].IsLast);
            Assert.All(mine.SkipLast(1), e => Assert.False(e.IsLast));
        }
    }

    [Fact]
    public void Rows_that_finish_early_leave_the_batch_without_changing_the_others()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var engine = new GenerationEngine(model);
        var options = Enumerable.Range(1, 6).Select(n => Greedy with { MaxNewTokens = n * 3 }).ToList();
        var together = engine.Generate(options.Select(o => new GenerationRequest(LongPrompt, o)).ToList());
        var longest = engine.Generate([new(LongPrompt, options[^1])])[0][0].TokenIds;
        for (int i = 0; i < options.Count; i++)
            Assert.Equal(longest.Take(options[i].MaxNewTokens), together[i][0].TokenIds);
    }

    [Fact]
    public void A_near_zero_temperature_is_greedy_and_non_finite_logits_are_a_clear_error()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var engine = new GenerationEngine(model);
        var greedy = engine.Generate([new(ShortPrompt, Greedy)])[0][0].TokenIds;
        Assert.Equal(greedy, engine.Generate([new(ShortPrompt, Greedy with { Temperature = 1e-300, Seed = 4 })])[0][0].TokenIds);

        using (no_grad()) model.HfStateDict()["model.norm.weight"].fill_(float.NaN);
        var error = Assert.Throws<R1Error>(() => engine.Generate([new(ShortPrompt, Greedy)]));
        Assert.Contains("not finite", error.Message);
    }

    [Fact]
    public void A_decode_step_allocates_next_to_nothing()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen2);
        var engine = new GenerationEngine(model);
        SamplingOptions Sampled(int tokens) => new() { Temperature = 1, TopP = 0.9, MaxNewTokens = tokens, Seed = 1 };
        // Two prompts of different lengths (so a key mask is passed) and two samples each; EOS is not a stop here.
        GenerationRequest[] Requests(int tokens) => [new(ShortPrompt, Sampled(tokens), 2), new(LongPrompt, Sampled(tokens), 2)];
        long Allocated(int tokens)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            engine.Generate(Requests(tokens));
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Allocated(10); // warm up
        long perStep = (Allocated(210) - Allocated(10)) / 200;
        // What is left: the step's key-mask view, TorchSharp's wrapper of the embedding weight, the result lists' growth.
        Assert.True(perStep <= 1024, $"a decode step of 4 rows allocated {perStep} managed bytes");
    }
}
