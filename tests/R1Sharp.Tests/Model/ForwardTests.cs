using R1Sharp.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Model;

public class ForwardTests
{
    // float32 on CPU: cached and full paths take different kernels (MLA even different algebra), so results
    // agree to rounding, not bit for bit.
    const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Cached_decoding_gives_the_same_logits_as_a_full_forward(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        using var _ = no_grad();
        var ids = randint(TinyModels.Vocab, [2, 12], dtype: int64, generator: new Generator(7));
        var full = model.Forward(ids);

        using var cache = KvCache.Create(model.Config, 2, 16, CPU);
        var prefillPositions = arange(5).unsqueeze(0).expand(2, -1);
        var logits = model.Forward(ids.narrow(1, 0, 5), prefillPositions, null, cache, allPositions: true);
        AssertClose(full.narrow(1, 0, 5), logits);
        for (int i = 5; i < 12; i++)
        {
            var step = model.Forward(ids.narrow(1, i, 1), full_like(ids.narrow(1, 0, 1), i), null, cache);
            AssertClose(full.select(1, i), step);
        }
        Assert.Equal(12, cache.Length);
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void A_left_padded_batch_gives_the_same_logits_as_one_by_one(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        using var _ = no_grad();
        long[] shortSeq = [5, 17, 42, 9];
        long[] longSeq = [3, 1, 4, 1, 5, 9, 2];
        var batch = tensor(new long[] { 0, 0, 0, 5, 17, 42, 9, 3, 1, 4, 1, 5, 9, 2 }).view(2, 7);
        var mask = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }).view(2, 7);
        var padded = model.Forward(batch, mask);
        AssertClose(model.Forward(tensor(shortSeq).unsqueeze(0)).squeeze(0), padded[0].narrow(0, 3, 4));
        AssertClose(model.Forward(tensor(longSeq).unsqueeze(0)).squeeze(0), padded[1]);
        Assert.False(padded.isnan().any().item<bool>());
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Cached_decoding_of_a_padded_batch_matches_one_by_one(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        using var _ = no_grad();
        var batch = tensor(new long[] { 0, 0, 7, 8, 9, 10, 11, 12 }).view(2, 4);
        var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1 }).view(2, 4);
        using var cache = KvCache.Create(model.Config, 2, 8, CPU);
        var first = model.Forward(batch, CausalLanguageModel.PositionsFromMask(mask), mask, cache);
        var next = tensor(new long[] { 20, 21 }).view(2, 1);
        var stepMask = cat([mask, ones(2, 1, dtype: int64)], 1);
        var positions = CausalLanguageModel.PositionsFromMask(stepMask).narrow(1, 4, 1);
        var second = model.Forward(next, positions, stepMask, cache);

        var alone = model.Forward(tensor(new long[] { 7, 8, 20 }).unsqueeze(0));
        AssertClose(alone[0, 1], first[0]);
        AssertClose(alone[0, 2], second[0]);
    }

    [Fact]
    public void Hugging_face_tensor_names_are_used_for_each_family()
    {
        using var llama = TinyModels.Create(ModelFamily.Llama);
        using var qwen = TinyModels.Create(ModelFamily.Qwen2);
        using var deepseek = TinyModels.Create(ModelFamily.DeepseekV3);
        var l = llama.ExpectedShapes();
        Assert.Contains("model.embed_tokens.weight", l.Keys);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight", l.Keys);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", l.Keys);
        Assert.Contains("model.norm.weight", l.Keys);
        Assert.Contains("lm_head.weight", l.Keys);
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.bias", l.Keys);

        var q = qwen.ExpectedShapes();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", q.Keys);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", q.Keys);
        Assert.DoesNotContain("lm_head.weight", q.Keys); // tied, as HF omits it

        using var qwen3 = TinyModels.Create(ModelFamily.Qwen3);
        var q3 = qwen3.ExpectedShapes();
        var c3 = qwen3.Config;
        Assert.Equal([c3.GqaHeadDim], q3["model.layers.1.self_attn.q_norm.weight"]);
        Assert.Equal([c3.GqaHeadDim], q3["model.layers.1.self_attn.k_norm.weight"]);
        Assert.Equal([c3.NumAttentionHeads * c3.GqaHeadDim, c3.HiddenSize], q3["model.layers.0.self_attn.q_proj.weight"]);
        Assert.NotEqual(c3.HiddenSize, c3.NumAttentionHeads * c3.GqaHeadDim); // head_dim is not hidden / heads
        Assert.Equal([c3.HiddenSize, c3.NumAttentionHeads * c3.GqaHeadDim], q3["model.layers.0.self_attn.o_proj.weight"]);
        Assert.DoesNotContain(q3.Keys, name => name.EndsWith(".bias"));
        Assert.DoesNotContain(l.Keys, name => name.Contains("q_norm"));

        var d = deepseek.ExpectedShapes();
        var c = deepseek.Config;
        Assert.Equal([c.KvLoraRank + c.QkRopeHeadDim, c.HiddenSize], d["model.layers.0.self_attn.kv_a_proj_with_mqa.weight"]);
        Assert.Equal([c.NumAttentionHeads * (c.QkNopeHeadDim + c.VHeadDim), c.KvLoraRank], d["model.layers.0.self_attn.kv_b_proj.weight"]);
        Assert.Contains("model.layers.0.self_attn.q_a_layernorm.weight", d.Keys);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", d.Keys); // first_k_dense_replace = 1
        Assert.Equal([c.NRoutedExperts], d["model.layers.1.mlp.gate.e_score_correction_bias"]);
        Assert.Contains($"model.layers.1.mlp.experts.{c.NRoutedExperts - 1}.down_proj.weight", d.Keys);
        Assert.Contains("model.layers.1.mlp.shared_experts.up_proj.weight", d.Keys);
        Assert.Equal(d.Count, d.Keys.Distinct().Count());
    }

    [Fact]
    public void Qwen3_normalises_each_query_and_key_head_on_its_own_before_rope()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen3);
        using var _ = no_grad();
        var ids = randint(TinyModels.Vocab, [1, 9], dtype: int64, generator: new Generator(5));
        var before = model.Forward(ids);
        var c = model.Config;
        var hf = model.HfStateDict();
        // RMSNorm over each head makes a head's scale irrelevant: scale one query head and one key head by their own factors.
        hf["model.layers.0.self_attn.q_proj.weight"].narrow(0, 1 * c.GqaHeadDim, c.GqaHeadDim).mul_(7);
        hf["model.layers.1.self_attn.k_proj.weight"].narrow(0, 0, c.GqaHeadDim).mul_(0.25);
        AssertClose(before, model.Forward(ids));
        // ...while the norm's weight is applied: doubling q_norm's weight (shared by the heads) changes the logits.
        hf["model.layers.0.self_attn.q_norm.weight"].mul_(2);
        Assert.True((before - model.Forward(ids)).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void Yarn_scales_the_rotary_tables_of_gqa_models_as_hf_does_and_leaves_mlas_to_the_softmax()
    {
        var yarn = new RopeScaling("yarn", Factor: 4, OriginalMaxPositionEmbeddings: 32, Mscale: 1, MscaleAllDim: 1);
        double Magnitude(CausalLanguageModel model)
        {
            var (cos, sin) = model.RotaryTables;
            var squared = cos * cos + sin * sin;
            Assert.True((squared - squared.mean()).abs().max().item<float>() < 1e-5);
            return Math.Sqrt(squared.mean().item<float>());
        }
        using (var qwen = TinyModels.Create(ModelFamily.Qwen3, edit: c => c with { RopeScaling = yarn }))
            Assert.Equal(0.1 * Math.Log(4) + 1, Magnitude(qwen), 5);
        using (var explicitFactor = TinyModels.Create(ModelFamily.Qwen2, edit: c => c with { RopeScaling = yarn with { AttentionFactor = 1.5, AttnFactor = 0.5 } }))
            Assert.Equal(0.75, Magnitude(explicitFactor), 5);
        using (var deepseek = TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { RopeScaling = yarn }))
            Assert.Equal(1, Magnitude(deepseek), 5);
        using var plain = TinyModels.Create(ModelFamily.Qwen3);
        Assert.Equal(1, Magnitude(plain), 5);
    }

    [Fact]
    public void Mla_without_query_compression_uses_a_plain_q_proj()
    {
        using var model = TinyModels.Create(ModelFamily.DeepseekV3, edit: c => c with { QLoraRank = null });
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", model.ExpectedShapes().Keys);
        Cached_decoding_gives_the_same_logits_as_a_full_forward_for(model);
    }

    static void Cached_decoding_gives_the_same_logits_as_a_full_forward_for(CausalLanguageModel model)
    {
        using var _ = no_grad();
        var ids = randint(TinyModels.Vocab, [1, 6], dtype: int64, generator: new Generator(3));
        var full = model.Forward(ids);
        using var cache = KvCache.Create(model.Config, 1, 6, CPU);
        for (int i = 0; i < 6; i++)
            AssertClose(full.select(1, i), model.Forward(ids.narrow(1, i, 1), full_like(ids.narrow(1, 0, 1), i), null, cache));
    }

    [Fact]
    public void The_embeddings_gradient_is_the_same_bits_every_time_even_when_tokens_repeat()
    {
        // Pretraining batches repeat tokens thousands of times; the table's gradient must sum them in one order, or
        // same-seed runs drift apart after a few steps (they did when the lookup's backward used parallel atomic adds).
        using var embedding = new TokenEmbedding(16, 64);
        var ids = randint(16, [32, 128], dtype: int64, generator: new Generator(3));
        var upstream = randn([32, 128, 64], generator: new Generator(4));
        Tensor? first = null;
        for (int run = 0; run < 20; run++)
        {
            embedding.zero_grad();
            (embedding.forward(ids) * upstream).sum().backward();
            var grad = embedding.Weight!.grad!.clone();
            if (first is null) first = grad;
            else Assert.True(first.eq(grad).all().item<bool>(), $"run {run}: the gradient's bits changed");
        }
    }

    internal static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff < Tolerance, $"max abs difference {diff} exceeds {Tolerance}");
    }
}
