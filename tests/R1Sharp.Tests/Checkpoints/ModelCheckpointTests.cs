using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

public class ModelCheckpointTests
{

    public static IEnumerable<object[]> FamiliesAndDtypes() =>
        from family in new[] { ModelFamily.Llama, ModelFamily.Qwen2, ModelFamily.DeepseekV3 }
        from dtype in new[] { "float32", "float16", "bfloat16" }
        select new object[] { family, dtype };

    [Theory]
    [MemberData(nameof(FamiliesAndDtypes))]
    public void Save_then_load_round_trips_bit_exactly(ModelFamily family, string dtype)
    {
        using var model = TinyModels.Create(family);
        using var first = new TempDir("r1-ckpt-");
        using var second = new TempDir("r1-ckpt-");
        ModelCheckpoint.Save(model, first, dtype);
        using var loaded = ModelCheckpoint.Load(first);
        ModelCheckpoint.Save(loaded, second, dtype);

        var a = HfWeights.Load(first);
        var b = HfWeights.Load(second);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var name in a.Keys)
            Assert.Equal(a[name].bytes.ToArray(), b[name].bytes.ToArray());
        if (dtype == "float32")
            foreach (var (name, value) in model.HfStateDict())
                Assert.True(value.eq(loaded.HfStateDict()[name]).all().item<bool>(), $"{name} changed");
        Assert.Equal(model.Config with { TorchDtype = dtype }, loaded.Config with { RopeScaling = model.Config.RopeScaling });
        Assert.True(File.Exists(Path.Combine(first, "generation_config.json")));
    }

    [Fact]
    public void A_sharded_checkpoint_loads_and_gives_the_same_logits()
    {
        using var model = TinyModels.Create(ModelFamily.DeepseekV3);
        using var dir = new TempDir("r1-ckpt-");
        ModelCheckpoint.Save(model, dir, maxShardBytes: 20_000);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
        Assert.True(Directory.GetFiles(dir, "model-*.safetensors").Length > 2);
        using var loaded = ModelCheckpoint.Load(dir);
        using var _ = no_grad();
        var ids = tensor(new long[] { 1, 2, 3, 4 }).unsqueeze(0);
        Assert.True(model.Forward(ids).eq(loaded.Forward(ids)).all().item<bool>());
    }

    [Fact]
    public void Missing_unexpected_and_misshaped_tensors_are_all_named_in_one_error()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        using var dir = new TempDir("r1-ckpt-");
        ModelCheckpoint.Save(model, dir);
        var tensors = HfWeights.Load(dir);
        tensors.Remove("model.layers.0.self_attn.q_proj.weight");
        tensors["model.layers.0.mlp.up_proj.weight"] = zeros(3, 3);
        tensors["model.extra.weight"] = zeros(2);
        HfWeights.Save(dir, tensors);
        var e = Assert.Throws<R1Error>(() => ModelCheckpoint.Load(dir));
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", e.Message);
        Assert.Contains("model.layers.0.mlp.up_proj.weight", e.Message);
        Assert.Contains("model.extra.weight", e.Message);
    }

    [Fact]
    public void A_bad_config_names_the_field()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen2);
        using var dir = new TempDir("r1-ckpt-");
        ModelCheckpoint.Save(model, dir);
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"num_attention_heads\": 4", "\"num_attention_heads\": \"four\""));
        var e = Assert.Throws<R1Error>(() => ModelCheckpoint.Load(dir));
        Assert.Contains("num_attention_heads", e.Message);
        Assert.Contains("config.json", e.Message);
    }
}
