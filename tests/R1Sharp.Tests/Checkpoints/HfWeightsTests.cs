using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

public class HfWeightsTests
{
    /// <summary>A small Llama-like weight set: 4,768 bytes, the largest tensor 1,536.</summary>
    static Dictionary<string, Tensor> TinyModel() => new()
    {
        ["model.embed_tokens.weight"] = randn([32, 16], generator: new TorchSharp.torch.Generator(1)).to(ScalarType.BFloat16),
        ["model.layers.0.self_attn.q_proj.weight"] = randn([16, 16], generator: new TorchSharp.torch.Generator(2)),
        ["model.layers.0.self_attn.q_proj.bias"] = randn([16], generator: new TorchSharp.torch.Generator(3)).to(ScalarType.Float16),
        ["model.layers.0.mlp.down_proj.weight"] = randn([16, 48], generator: new TorchSharp.torch.Generator(4)).to(ScalarType.BFloat16),
        ["model.layers.0.input_layernorm.weight"] = ones(16),
        ["model.norm.weight"] = ones(16),
        ["lm_head.weight"] = randn([32, 16], generator: new TorchSharp.torch.Generator(5)).to(ScalarType.BFloat16),
    };

    static string[] FileNames(string dir) => Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void SmallModelIsSavedAsOneFileAndLoadsBack()
    {
        using var files = new CheckpointTestFiles();
        var model = TinyModel();
        HfWeights.Save(files.Dir, model);
        Assert.Equal(["model.safetensors"], FileNames(files.Dir));
        Assert.Equal("pt", SafeTensorsFile.ReadHeader(files.PathOf("model.safetensors")).Metadata["format"]);
        var loaded = HfWeights.Load(files.Dir);
        CheckpointTestFiles.AssertSameTensors(model, loaded);
        CheckpointTestFiles.DisposeAll(model.Values.Concat(loaded.Values));
    }

    [Fact]
    public void ShardedCheckpointHasAnIndexAndLoadsEqualToTheOriginal()
    {
        using var files = new CheckpointTestFiles();
        var model = TinyModel();
        HfWeights.Save(files.Dir, model, maxShardBytes: 2048);

        string[] names = FileNames(files.Dir);
        Assert.DoesNotContain("model.safetensors", names);
        Assert.Contains("model.safetensors.index.json", names);
        var shards = names.Where(n => n.StartsWith("model-")).ToArray();
        Assert.True(shards.Length >= 3, string.Join(", ", names));
        Assert.All(shards, s => Assert.Matches($@"^model-\d{{5}}-of-{shards.Length:D5}\.safetensors$", s));
        foreach (string shard in shards)
        {
            var header = SafeTensorsFile.ReadHeader(files.PathOf(shard));
            Assert.True(header.DataLength <= 2048 || header.Tensors.Count == 1, $"{shard}: {header.DataLength} bytes");
        }

        var index = JsonNode.Parse(File.ReadAllText(files.PathOf("model.safetensors.index.json")))!;
        Assert.Equal(model.Values.Sum(SafeTensorsFile.ByteLength), (long)index["metadata"]!["total_size"]!);
        var weightMap = index["weight_map"]!.AsObject();
        Assert.Equal(model.Keys.Order(StringComparer.Ordinal), weightMap.Select(kv => kv.Key));
        foreach (var (name, shard) in weightMap)
            Assert.Contains(name, SafeTensorsFile.ReadHeader(files.PathOf((string)shard!)).Tensors.Keys);

        var loaded = HfWeights.Load(files.Dir);
        CheckpointTestFiles.AssertSameTensors(model, loaded);
        CheckpointTestFiles.DisposeAll(model.Values.Concat(loaded.Values));
    }

    [Fact]
    public void SavingRemovesStaleWeightFilesOfTheOtherLayout()
    {
        using var files = new CheckpointTestFiles();
        var model = TinyModel();
        File.WriteAllText(files.PathOf("config.json"), "{}");

        HfWeights.Save(files.Dir, model, maxShardBytes: 1024);
        int manyShards = FileNames(files.Dir).Count(n => n.StartsWith("model-"));
        HfWeights.Save(files.Dir, model, maxShardBytes: 4096);
        int fewerShards = FileNames(files.Dir).Count(n => n.StartsWith("model-"));
        Assert.True(fewerShards < manyShards);
        Assert.All(FileNames(files.Dir).Where(n => n.StartsWith("model-")), n => Assert.EndsWith($"-of-{fewerShards:D5}.safetensors", n));

        HfWeights.Save(files.Dir, model);
        Assert.Equal(["config.json", "model.safetensors"], FileNames(files.Dir));

        HfWeights.Save(files.Dir, model, maxShardBytes: 4096);
        Assert.DoesNotContain("model.safetensors", FileNames(files.Dir));
        Assert.Contains("config.json", FileNames(files.Dir));
        var loaded = HfWeights.Load(files.Dir);
        CheckpointTestFiles.AssertSameTensors(model, loaded);
        CheckpointTestFiles.DisposeAll(model.Values.Concat(loaded.Values));
    }

    /// <summary>DeepSeek names shards with six digits; only the index says which file holds what.</summary>
    [Fact]
    public void ShardsAreFoundThroughTheWeightMapWhateverTheirDigitWidth()
    {
        using var files = new CheckpointTestFiles();
        using var a = ones(3);
        using var b = arange(4, ScalarType.Int64);
        SafeTensorsFile.Save(files.PathOf("model-000001-of-000002.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        SafeTensorsFile.Save(files.PathOf("model-000002-of-000002.safetensors"), new Dictionary<string, Tensor> { ["b"] = b });
        File.WriteAllText(files.PathOf("model.safetensors.index.json"),
            """{"metadata": {"total_size": 44}, "weight_map": {"a": "model-000001-of-000002.safetensors", "b": "model-000002-of-000002.safetensors"}}""");
        var loaded = HfWeights.Load(files.Dir);
        CheckpointTestFiles.AssertSameTensors(new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, loaded);
        CheckpointTestFiles.DisposeAll(loaded.Values);
    }

    static R1Error LoadFails(string dir, params string[] fragments)
    {
        var error = Assert.Throws<R1Error>(() => HfWeights.Load(dir));
        foreach (string fragment in fragments) Assert.Contains(fragment, error.Message);
        return error;
    }

    static void WriteIndex(CheckpointTestFiles files, string weightMapJson) =>
        File.WriteAllText(files.PathOf("model.safetensors.index.json"), $$"""{"metadata": {"total_size": 12}, "weight_map": {{weightMapJson}}}""");

    [Fact]
    public void MissingShardFileIsNamed()
    {
        using var files = new CheckpointTestFiles();
        using var a = ones(3);
        SafeTensorsFile.Save(files.PathOf("model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        WriteIndex(files, """{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}""");
        LoadFails(files.Dir, "model.safetensors.index.json", "model-00002-of-00002.safetensors", "'b'", "does not exist");
    }

    [Fact]
    public void WeightMapEntryAbsentFromItsShardIsNamed()
    {
        using var files = new CheckpointTestFiles();
        using var a = ones(3);
        SafeTensorsFile.Save(files.PathOf("model-00001-of-00001.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        WriteIndex(files, """{"a": "model-00001-of-00001.safetensors", "ghost": "model-00001-of-00001.safetensors"}""");
        LoadFails(files.Dir, "'ghost'", "model-00001-of-00001.safetensors", "no such tensor");
    }

    [Fact]
    public void ShardTensorTheIndexDoesNotListIsNamed()
    {
        using var files = new CheckpointTestFiles();
        using var a = ones(3);
        SafeTensorsFile.Save(files.PathOf("model-00001-of-00001.safetensors"), new Dictionary<string, Tensor> { ["a"] = a, ["extra"] = a });
        WriteIndex(files, """{"a": "model-00001-of-00001.safetensors"}""");
        LoadFails(files.Dir, "'extra'", "does not list");
    }

    [Theory]
    [InlineData("""{"a": "../outside.safetensors"}""", "not a file name")]
    [InlineData("""{"a": "/etc/passwd"}""", "not a file name")]
    [InlineData("""{"a": 3}""", "must be a shard file name")]
    [InlineData("""{"a": "x.safetensors", "a": "y.safetensors"}""", "more than once")]
    [InlineData("""[1, 2]""", "weight_map")]
    public void MalformedWeightMapIsAnR1Error(string weightMap, string problem)
    {
        using var files = new CheckpointTestFiles();
        WriteIndex(files, weightMap);
        LoadFails(files.Dir, "model.safetensors.index.json", problem);
        File.WriteAllText(files.PathOf("model.safetensors.index.json"), "{\"weight_map\": ");
        LoadFails(files.Dir, "not a valid index JSON");
    }

    [Fact]
    public void DirectoryWithoutWeightsOrWithBothLayoutsIsAnR1Error()
    {
        using var files = new CheckpointTestFiles();
        LoadFails(files.Dir, files.Dir, "no model.safetensors");
        LoadFails(files.PathOf("absent"), "does not exist");
        using var a = ones(3);
        HfWeights.Save(files.Dir, new Dictionary<string, Tensor> { ["a"] = a });
        WriteIndex(files, """{"a": "model.safetensors"}""");
        LoadFails(files.Dir, "both");
    }
}
