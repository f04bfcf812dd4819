using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Model;

namespace R1Sharp.Tests.Cli;

/// <summary>`r1 init` as a user runs it: --arch/--preset or --config, --force, and errors that leave nothing half-made.</summary>
public class InitCommandTests
{
    static (int Exit, string Output) R1(params string[] args)
    {
        var output = new StringWriter();
        int exit = CliApp.Run(args, output);
        return (exit, output.ToString());
    }

    [Fact]
    public void Init_qwen3_then_generate_prints_the_same_text_on_every_run()
    {
        using var dir = new TempDir();
        string model = dir.File("qwen3");
        Assert.Equal(0, R1("init", "--arch", "qwen3", "--preset", "tiny", "--out", model, "--seed", "3").Exit);
        Assert.Equal(ModelFamily.Qwen3, ModelConfig.Load(Path.Combine(model, "config.json")).Family);
        string[] greedy = ["generate", "--model", model, "--prompt", "2+2=", "--temperature", "0", "--max-tokens", "16"];
        var first = R1(greedy);
        Assert.Equal(0, first.Exit);
        Assert.Equal(first.Output, R1(greedy).Output);
    }

    /// <summary>Qwen3-0.6B's real config.json, every key kept, with the sizes cut down so the test stays small.</summary>
    static string ShrunkQwen3Config(string dir)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "configs", "Qwen3-0.6B.json")))!.AsObject();
        json["vocab_size"] = 512;
        json["hidden_size"] = 64;
        json["intermediate_size"] = 96;
        json["num_hidden_layers"] = 3;
        json["num_attention_heads"] = 4;
        json["num_key_value_heads"] = 2;
        json["head_dim"] = 48;
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Fact]
    public void Init_from_a_config_builds_its_shape_and_inspect_shows_it()
    {
        using var dir = new TempDir();
        string config = ShrunkQwen3Config(dir.Path), model = dir.File("model");
        Assert.Equal(0, R1("init", "--config", config, "--out", model, "--seed", "2", "--dtype", "bfloat16").Exit);
        var written = ModelConfig.Load(Path.Combine(model, "config.json"));
        Assert.Equal((ModelFamily.Qwen3, 512, 3, 48, true, "bfloat16"),
            (written.Family, written.VocabSize, written.NumHiddenLayers, written.GqaHeadDim, written.TieWordEmbeddings, written.TorchDtype));
        var header = SafeTensorsFile.ReadHeader(Path.Combine(model, HfWeights.SingleFileName));
        Assert.Equal(new long[] { 48 }, header.Tensors["model.layers.2.self_attn.k_norm.weight"].Shape);
        Assert.Equal("BF16", header.Tensors["model.layers.0.self_attn.q_proj.weight"].Dtype);

        var inspect = R1("inspect", model);
        Assert.Equal(0, inspect.Exit);
        Assert.Contains("qwen3", inspect.Output);
        Assert.Contains($"{ModelStats.Of(written).TotalParameters:N0}", inspect.Output);
    }

    [Fact]
    public void Bad_flags_exit_with_2_and_write_nothing()
    {
        using var dir = new TempDir();
        string config = ShrunkQwen3Config(dir.Path), model = dir.File("model");
        Assert.Equal(2, R1("init", "--config", config, "--arch", "qwen3", "--out", model).Exit);
        Assert.Equal(2, R1("init", "--out", model).Exit);
        Assert.Equal(2, R1("init", "--arch", "qwen3", "--out", model).Exit);
        Assert.Equal(2, R1("init", "--config", config, "--out", model, "--dtype", "float64").Exit);
        Assert.Equal(2, R1("init", "--arch", "qwen3", "--preset", "tiny", "--out", model, "--dtype", "int8").Exit);
        Assert.Equal(2, R1("init", "--config", dir.File("nope.json"), "--out", model).Exit);
        Assert.False(Directory.Exists(model));
        Assert.Equal(new string?[] { "config.json" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void An_existing_model_folder_is_replaced_only_with_force()
    {
        using var dir = new TempDir();
        string model = dir.File("model");
        Assert.Equal(0, R1("init", "--arch", "llama", "--preset", "tiny", "--out", model).Exit);
        Assert.Equal(2, R1("init", "--arch", "deepseek_v3", "--preset", "tiny", "--out", model).Exit);
        Assert.Equal(ModelFamily.Llama, ModelConfig.Load(Path.Combine(model, "config.json")).Family);
        Assert.Equal(0, R1("init", "--arch", "deepseek_v3", "--preset", "tiny", "--out", model, "--force").Exit);
        Assert.Equal(ModelFamily.DeepseekV3, ModelConfig.Load(Path.Combine(model, "config.json")).Family);
    }
}
