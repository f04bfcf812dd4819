using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

/// <summary>`r1 init` in the library: presets and HF configs, streamed weights with HF's init, and folders written whole.</summary>
public class ModelInitializerTests
{
    static readonly int ByteVocab = new ByteTokenizer().VocabSize;

    /// <summary>A config.json of the family's tiny preset (qwen3: head_dim 32 over a width of 64), untied so lm_head is written too.</summary>
    static string WriteConfig(string dir, ModelFamily family, Func<ModelConfig, ModelConfig>? edit = null)
    {
        var config = ModelPresets.Create(family, "tiny", 320) with { TieWordEmbeddings = false, InitializerRange = 0.05 };
        string path = Path.Combine(dir, $"{ModelConfig.TypeName(family)}.json");
        (edit?.Invoke(config) ?? config).Save(path);
        return path;
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void A_config_gives_a_model_of_its_shape_with_hf_init_and_the_tokenizers_ids(ModelFamily family)
    {
        using var dir = new TempDir();
        string configPath = WriteConfig(dir.Path, family);
        string outDir = dir.File("model");
        var written = ModelInitializer.CreateFromConfig(configPath, outDir, seed: 4);

        var asked = ModelConfig.Load(configPath);
        using var model = ModelCheckpoint.Load(outDir); // checks every name and shape
        Assert.Equal(asked with { BosTokenId = null, EosTokenIds = [], PadTokenId = null, TorchDtype = "" },
            model.Config with { BosTokenId = null, EosTokenIds = [], PadTokenId = null, TorchDtype = "" }, new ConfigComparer());
        var byteTokenizer = new ByteTokenizer();
        Assert.Equal(byteTokenizer.EosId, Assert.Single(written.EosTokenIds));
        Assert.Equal(byteTokenizer.BosId, written.BosTokenId);
        Assert.True(File.Exists(Path.Combine(outDir, TokenizerLoader.TokenizerFileName)));

        foreach (var (name, t) in model.HfStateDict())
        {
            if (name.EndsWith("norm.weight")) Assert.True(t.eq(1).all().item<bool>(), $"{name} should start at one");
            else if (name.EndsWith("bias")) Assert.True(t.eq(0).all().item<bool>(), $"{name} should start at zero");
            else if (t.numel() >= 4096)
            {
                Assert.InRange(t.std().item<float>(), 0.045, 0.055); // normal(0, initializer_range = 0.05)
                Assert.InRange(t.mean().item<float>(), -0.005, 0.005);
            }
        }
        using var _ = no_grad();
        Assert.False(model.Forward(tensor(new long[] { 1, 2, 3 }).view(1, 3)).isnan().any().item<bool>());
    }

    /// <summary>Configs compared field by field (records with arrays compare them by reference).</summary>
    sealed class ConfigComparer : IEqualityComparer<ModelConfig>
    {
        public bool Equals(ModelConfig? a, ModelConfig? b) => a!.ToJson().ToJsonString() == b!.ToJson().ToJsonString();
        public int GetHashCode(ModelConfig c) => 0;
    }

    [Fact]
    public void The_same_seed_writes_the_same_weights_and_another_seed_others()
    {
        using var dir = new TempDir();
        string configPath = WriteConfig(dir.Path, ModelFamily.Qwen3);
        byte[] Weights(int seed, string name)
        {
            ModelInitializer.CreateFromConfig(configPath, dir.File(name), seed);
            return File.ReadAllBytes(Path.Combine(dir.File(name), HfWeights.SingleFileName));
        }
        var first = Weights(3, "a");
        Assert.Equal(first, Weights(3, "b"));
        Assert.NotEqual(first, Weights(4, "c"));
    }

    [Fact]
    public void A_tensor_bigger_than_a_chunk_is_drawn_whole()
    {
        // 300,000 × 64 = 19.2M values: more than one 16M-value chunk of the embedding.
        using var dir = new TempDir();
        string configPath = WriteConfig(dir.Path, ModelFamily.Llama, c => c with { VocabSize = 300_000, TieWordEmbeddings = true, NumHiddenLayers = 1 });
        ModelInitializer.CreateFromConfig(configPath, dir.File("model"), seed: 1, dtype: "bfloat16");
        using var tensors = new DisposableTensors(SafeTensorsFile.Load(Path.Combine(dir.File("model"), HfWeights.SingleFileName)));
        var embedding = tensors.Values["model.embed_tokens.weight"];
        Assert.Equal(ScalarType.BFloat16, embedding.dtype);
        Assert.Equal(new long[] { 300_000, 64 }, embedding.shape);
        using var head = embedding.narrow(0, 0, 10_000).to(float32);
        using var tail = embedding.narrow(0, 290_000, 10_000).to(float32); // past the first chunk
        Assert.InRange(head.std().item<float>(), 0.049, 0.051);
        Assert.InRange(tail.std().item<float>(), 0.049, 0.051);
        Assert.True((head - tail).abs().max().item<float>() > 0);
    }

    sealed class DisposableTensors(Dictionary<string, Tensor> values) : IDisposable
    {
        public Dictionary<string, Tensor> Values => values;
        public void Dispose() { foreach (var t in values.Values) t.Dispose(); }
    }

    static string[] Leftovers(string parent, string name) =>
        Directory.GetFileSystemEntries(parent).Where(p => Path.GetFileName(p).StartsWith(name + ".")).ToArray();

    [Fact]
    public void A_bad_dtype_or_preset_leaves_no_folder_behind()
    {
        using var dir = new TempDir();
        string outDir = dir.File("model");
        Assert.Contains("dtype 'float8'", Assert.Throws<R1Error>(() => ModelInitializer.Create(ModelFamily.Llama, "tiny", outDir, 0, dtype: "float8")).Message);
        Assert.Throws<R1Error>(() => ModelInitializer.Create(ModelFamily.Llama, "huge", outDir, 0));
        Assert.Throws<R1Error>(() => ModelInitializer.CreateFromConfig(dir.File("missing.json"), outDir, 0));
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Leftovers(dir.Path, "model"));
    }

    [Fact]
    public void A_folder_with_files_is_kept_unless_forced_and_then_replaced_whole()
    {
        using var dir = new TempDir();
        string outDir = dir.File("model");
        Directory.CreateDirectory(outDir);
        ModelInitializer.Create(ModelFamily.Llama, "tiny", outDir, 0); // an empty folder is fine to fill
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "mine");
        byte[] before = File.ReadAllBytes(Path.Combine(outDir, HfWeights.SingleFileName));

        var error = Assert.Throws<R1Error>(() => ModelInitializer.Create(ModelFamily.Qwen3, "tiny", outDir, 1));
        Assert.Contains("--force", error.Message);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(outDir, HfWeights.SingleFileName)));
        Assert.Equal(ModelFamily.Llama, ModelConfig.Load(Path.Combine(outDir, ModelCheckpoint.ConfigFile)).Family);

        ModelInitializer.Create(ModelFamily.Qwen3, "tiny", outDir, 1, force: true);
        Assert.Equal(ModelFamily.Qwen3, ModelConfig.Load(Path.Combine(outDir, ModelCheckpoint.ConfigFile)).Family);
        Assert.False(File.Exists(Path.Combine(outDir, "notes.txt"))); // the old folder is gone, not merged
        Assert.Empty(Leftovers(dir.Path, "model"));
    }

    [Fact]
    public void A_config_vocab_smaller_than_the_tokenizer_is_refused_before_writing()
    {
        using var dir = new TempDir();
        string configPath = WriteConfig(dir.Path, ModelFamily.Qwen2, c => c with { VocabSize = ByteVocab - 1 });
        var error = Assert.Throws<R1Error>(() => ModelInitializer.CreateFromConfig(configPath, dir.File("model"), 0));
        Assert.Contains("vocab_size", error.Message);
        Assert.False(Directory.Exists(dir.File("model")));
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Small_presets_have_10_to_30_million_parameters(ModelFamily family)
    {
        long parameters = ModelStats.Of(ModelPresets.Create(family, "small", ByteVocab)).TotalParameters;
        Assert.InRange(parameters, 10_000_000, 30_000_000);
    }

    [Fact]
    public void A_tied_checkpoint_that_also_stores_the_head_loads()
    {
        // Qwen3-0.6B is tied yet its checkpoint carries lm_head.weight (a copy of the embedding).
        using var dir = new TempDir();
        using var model = TinyModels.Create(ModelFamily.Qwen3);
        Assert.True(model.Config.TieWordEmbeddings);
        ModelCheckpoint.Save(model, dir.Path);
        var tensors = HfWeights.Load(dir.Path);
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone();
        HfWeights.Save(dir.Path, tensors);
        using var loaded = ModelCheckpoint.Load(dir.Path);
        using var _ = no_grad();
        var ids = tensor(new long[] { 4, 5, 6 }).view(1, 3);
        ForwardTests.AssertClose(model.Forward(ids), loaded.Forward(ids));
    }
}
