using System.Text;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

/// <summary>The weights of a model directory checked against its config from the headers alone (issue #13 item 2, #20.6).</summary>
public class WeightCheckTests
{
    /// <summary>A saved tiny model: its directory and the path of its single weight file.</summary>
    static (string Dir, string Weights) Saved(ModelFamily family, long maxShardBytes = long.MaxValue)
    {
        using var model = TinyModels.Create(family);
        string dir = Directory.CreateTempSubdirectory("r1-weightcheck-").FullName;
        ModelCheckpoint.Save(model, dir, maxShardBytes: maxShardBytes);
        return (dir, Path.Combine(dir, HfWeights.SingleFileName));
    }

    static R1Error Fails(string dir)
    {
        var config = ModelConfig.Load(Path.Combine(dir, ModelCheckpoint.ConfigFile));
        return Assert.Throws<R1Error>(() => WeightCheck.Run(dir, config));
    }

    static void EditConfig(string dir, Action<JsonObject> edit)
    {
        string path = Path.Combine(dir, ModelCheckpoint.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void A_good_checkpoint_passes_and_counts_every_parameter(ModelFamily family)
    {
        var (dir, weights) = Saved(family);
        var (config, check) = ModelCheckpoint.Check(dir);
        var expected = ModelStats.ExpectedShapes(config);
        Assert.Equal(expected.Count, check.Tensors);
        Assert.Equal(ModelStats.Of(config).TotalParameters, check.Parameters);
        Assert.Equal(check.ExpectedParameters, check.Parameters);
        Assert.Equal(new FileInfo(weights).Length, Assert.Single(check.Files).Bytes);
        Assert.Equal(expected.Values.Sum(ModelStats.Elements), check.ElementsByDtype["F32"]);
    }

    [Fact]
    public void A_sharded_checkpoint_is_checked_shard_by_shard()
    {
        var (dir, _) = Saved(ModelFamily.DeepseekV3, maxShardBytes: 20_000);
        var (config, check) = ModelCheckpoint.Check(dir);
        Assert.True(check.Files.Count > 2);
        Assert.Equal(ModelStats.ExpectedShapes(config).Count, check.Files.Sum(f => f.Tensors));

        // A shard cut short is named with the tensor that runs past its end.
        var last = check.Files[^1];
        File.WriteAllBytes(last.Path, File.ReadAllBytes(last.Path)[..^8]);
        var e = Fails(dir);
        Assert.Contains(Path.GetFileName(last.Path), e.Message);
        Assert.Contains("tensor '", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void A_truncated_file_names_the_file_and_the_tensor_past_its_end()
    {
        var (dir, weights) = Saved(ModelFamily.Llama);
        var header = SafeTensorsFile.ReadHeader(weights);
        var last = header.InDataOrder.Last();
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^100]);
        var e = Fails(dir);
        Assert.Contains(weights, e.Message);
        Assert.Contains($"tensor '{last.Name}'", e.Message);
        Assert.Contains("file truncated?", e.Message);
    }

    [Fact]
    public void A_corrupt_header_names_the_file_and_the_tensor()
    {
        var (dir, weights) = Saved(ModelFamily.Qwen2);
        byte[] bytes = File.ReadAllBytes(weights);
        // The first tensor's first dim gains a digit: its shape no longer matches its byte range.
        int at = IndexOf(bytes, "\"shape\":[") + "\"shape\":[".Length;
        bytes[at] = (byte)'9';
        File.WriteAllBytes(weights, bytes);
        var e = Fails(dir);
        Assert.Contains(weights, e.Message);
        Assert.Matches(@"tensor '[\w.]+': shape \[9\d*, \d+\]", e.Message);

        // Bytes that are not JSON at all: the file is named.
        bytes[12] = 0xFF;
        File.WriteAllBytes(weights, bytes);
        Assert.Contains(weights, Fails(dir).Message);
    }

    [Fact]
    public void A_wrong_shape_names_the_file_the_tensor_and_both_shapes()
    {
        var (dir, _) = Saved(ModelFamily.Llama);
        EditConfig(dir, c => c["intermediate_size"] = 256);
        var e = Fails(dir);
        Assert.Contains("model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' has shape [128, 64], but config.json makes it [256, 64]", e.Message);
        Assert.Contains("(6 problems)", e.Message);
    }

    [Fact]
    public void Missing_unexpected_misshaped_and_mistyped_tensors_are_all_named_in_one_error()
    {
        var (dir, _) = Saved(ModelFamily.Llama);
        var tensors = HfWeights.Load(dir);
        tensors.Remove("model.layers.0.self_attn.q_proj.weight");
        tensors["model.layers.0.mlp.up_proj.weight"] = zeros(3, 3);
        tensors["model.norm.weight"] = ones(64, dtype: int32);
        tensors["model.extra.weight"] = zeros(2);
        HfWeights.Save(dir, tensors);
        var e = Fails(dir);
        Assert.Contains("(4 problems)", e.Message);
        Assert.Contains("model.safetensors: no tensor 'model.layers.0.self_attn.q_proj.weight' (shape [64, 64]), which config.json requires", e.Message);
        Assert.Contains("tensor 'model.layers.0.mlp.up_proj.weight' has shape [3, 3], but config.json makes it [128, 64]", e.Message);
        Assert.Contains("tensor 'model.norm.weight' is I32; model weights must be one of F32, F16, BF16, F64", e.Message);
        Assert.Contains("tensor 'model.extra.weight' (shape [2]) is not part of a llama model of this config", e.Message);
    }

    [Fact]
    public void A_long_list_of_problems_is_cut_and_hostile_names_are_escaped()
    {
        var (dir, _) = Saved(ModelFamily.Llama);
        var tensors = HfWeights.Load(dir);
        for (int i = 0; i < 50; i++) tensors[$"stray.{i}"] = zeros(1);
        tensors["evil\u001b[2J\u0007\nerror: forged"] = zeros(1);
        HfWeights.Save(dir, tensors);
        string message = Fails(dir).Message;
        Assert.Contains("(51 problems)", message);
        Assert.Contains("... and 31 more", message);
        Assert.Equal(22, message.Split('\n').Length); // the heading, 20 problems, the rest counted
        Assert.DoesNotContain('\u001b', message);
        Assert.DoesNotContain('\u0007', message);
    }

    [Fact]
    public void Loading_refuses_a_config_far_bigger_than_its_weights_before_allocating_the_model()
    {
        var (dir, _) = Saved(ModelFamily.Llama);
        // 4M tokens × 64: 2 GiB of embedding and head that the 0.4 MB of weights can't fill.
        EditConfig(dir, c => c["vocab_size"] = 4_000_000);
        long peakBefore = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64;
        var e = Assert.Throws<R1Error>(() => ModelCheckpoint.Load(dir));
        long peakAfter = System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64;
        Assert.Contains("tensor 'model.embed_tokens.weight' has shape [300, 64], but config.json makes it [4000000, 64]", e.Message);
        Assert.True(peakAfter - peakBefore < 512L << 20, $"peak working set grew by {(peakAfter - peakBefore) >> 20} MiB: the model was allocated");
    }

    [Fact]
    public void Multi_token_prediction_layers_are_counted_apart_and_not_required()
    {
        var (dir, _) = Saved(ModelFamily.DeepseekV3);
        var tensors = HfWeights.Load(dir);
        tensors["model.layers.2.eh_proj.weight"] = zeros(64, 128);
        HfWeights.Save(dir, tensors);
        var (_, check) = ModelCheckpoint.Check(dir);
        Assert.Equal(1, check.SkippedMtpTensors);
        using var loaded = ModelCheckpoint.Load(dir);
    }

    static int IndexOf(byte[] bytes, string text)
    {
        byte[] needle = Encoding.ASCII.GetBytes(text);
        for (int i = 0; i + needle.Length <= bytes.Length; i++)
            if (bytes.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        throw new InvalidOperationException($"'{text}' not found");
    }
}
