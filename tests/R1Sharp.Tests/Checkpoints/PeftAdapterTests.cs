using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Checkpoints;

/// <summary>
/// Adapter folders in PEFT's format: the names, shapes and config keys PEFT's <c>save_pretrained</c> writes (and vLLM
/// loads), read back, and hostile folders refused with errors that name the problem.
/// </summary>
public class PeftAdapterTests : IDisposable
{
    readonly TempDir dir = new("r1-peft-");

    public void Dispose() => dir.Dispose();

    /// <summary>
    /// Every key a PEFT adapter over each tiny model holds, with its shape, spelled as PEFT writes them: its LoraModel
    /// wraps the transformers model, so names start "base_model.model." and then the module path of transformers'
    /// modeling code (LlamaForCausalLM.model.layers[i].self_attn.q_proj, DeepseekV3's q_a_proj, kv_a_proj_with_mqa,
    /// kv_b_proj, mlp.experts[e] and mlp.shared_experts); save_pretrained drops the adapter name (".default").
    /// lora_A.weight is [r, in_features], lora_B.weight [out_features, r] (peft/tuners/lora/layer.py, nn.Linear's layout).
    /// </summary>
    static Dictionary<string, long[]> PeftKeys(ModelFamily family, int r)
    {
        var keys = new Dictionary<string, long[]>();
        void Pair(int layer, string module, long inFeatures, long outFeatures)
        {
            keys[$"base_model.model.model.layers.{layer}.{module}.lora_A.weight"] = [r, inFeatures];
            keys[$"base_model.model.model.layers.{layer}.{module}.lora_B.weight"] = [outFeatures, r];
        }
        for (int layer = 0; layer < 2; layer++)
        {
            if (family == ModelFamily.DeepseekV3)
            {
                // hidden 64, q_lora_rank 32, 4 heads of 16 nope + 8 rope query dims, kv_lora_rank 16, v_head_dim 16.
                Pair(layer, "self_attn.q_a_proj", 64, 32);
                Pair(layer, "self_attn.q_b_proj", 32, 4 * 24);
                Pair(layer, "self_attn.kv_a_proj_with_mqa", 64, 16 + 8);
                Pair(layer, "self_attn.kv_b_proj", 16, 4 * (16 + 16));
                Pair(layer, "self_attn.o_proj", 4 * 16, 64);
                if (layer == 0) // first_k_dense_replace = 1: a dense MLP 128 wide
                    foreach (var (module, i, o) in new[] { ("mlp.gate_proj", 64L, 128L), ("mlp.up_proj", 64, 128), ("mlp.down_proj", 128, 64) })
                        Pair(layer, module, i, o);
                else
                    foreach (var expert in Enumerable.Range(0, 8).Select(e => $"mlp.experts.{e}").Append("mlp.shared_experts"))
                    {
                        Pair(layer, $"{expert}.gate_proj", 64, 32);
                        Pair(layer, $"{expert}.up_proj", 64, 32);
                        Pair(layer, $"{expert}.down_proj", 32, 64);
                    }
                continue;
            }
            // hidden 64, 4 query heads and 2 key/value heads of 16 (qwen3: 32), MLP 128.
            long headDim = family == ModelFamily.Qwen3 ? 32 : 16;
            Pair(layer, "self_attn.q_proj", 64, 4 * headDim);
            Pair(layer, "self_attn.k_proj", 64, 2 * headDim);
            Pair(layer, "self_attn.v_proj", 64, 2 * headDim);
            Pair(layer, "self_attn.o_proj", 4 * headDim, 64);
            Pair(layer, "mlp.gate_proj", 64, 128);
            Pair(layer, "mlp.up_proj", 64, 128);
            Pair(layer, "mlp.down_proj", 128, 64);
        }
        return keys;
    }

    [Theory]
    [MemberData(nameof(TinyModels.Families), MemberType = typeof(TinyModels))]
    public void Adapter_files_carry_PEFTs_names_shapes_and_config_keys(ModelFamily family)
    {
        using var model = TinyModels.Create(family);
        using var adapter = LoraTests.TrainedLookingAdapter(model, new LoraSettings(4, 16, 0.05));
        PeftAdapter.Save(adapter, dir);

        Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        var header = SafeTensorsFile.ReadHeader(dir.File("adapter_model.safetensors"));
        var expected = PeftKeys(family, 4);
        Assert.Equal(expected.Keys.Order(), header.Tensors.Keys.Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, header.Tensors[name].Shape);
        Assert.All(header.Tensors.Values, t => Assert.Equal("F32", t.Dtype));

        // LoraConfig's keys with the values PEFT reads (peft/tuners/lora/config.py, peft/config.py).
        var config = JsonNode.Parse(File.ReadAllText(dir.File("adapter_config.json")))!.AsObject();
        Assert.Equal("LORA", (string)config["peft_type"]!);
        Assert.Equal("CAUSAL_LM", (string)config["task_type"]!);
        Assert.Equal(4, (int)config["r"]!);
        Assert.Equal(16, (int)config["lora_alpha"]!);
        Assert.Equal(0.05, (double)config["lora_dropout"]!);
        Assert.Equal("none", (string)config["bias"]!);
        Assert.False((bool)config["fan_in_fan_out"]!);
        Assert.False((bool)config["use_rslora"]!);
        Assert.False((bool)config["use_dora"]!);
        Assert.True((bool)config["inference_mode"]!);
        Assert.Null(config["modules_to_save"]);
        Assert.Equal("base", (string)config["base_model_name_or_path"]!);
        // "all-linear" is saved as the module names it stood for, as PEFT does.
        var targets = config["target_modules"]!.AsArray().Select(n => (string)n!).ToList();
        var leafNames = expected.Keys.Select(k => k.Split('.')[^3]).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal(leafNames, targets);

        // Read back into a fresh copy of the base: the same tensors, the same settings.
        using var other = TinyModels.Create(family);
        using var loaded = PeftAdapter.Load(dir, other);
        Assert.Equal(adapter.Paths, loaded.Paths);
        Assert.Equal(adapter.Settings with { Targets = null }, loaded.Settings with { Targets = null });
        foreach (var ((_, a), (_, b)) in adapter.Layers.Zip(loaded.Layers))
        {
            Assert.True(a.A.eq(b.A).all().item<bool>());
            Assert.True(a.B.eq(b.B).all().item<bool>());
        }
    }

    /// <summary>adapter_config.json as PEFT 0.13's save_pretrained writes it for LoraConfig(r=2, target_modules=["q_proj",
    /// "v_proj"], lora_alpha=4): keys R1Sharp does not use are there too, and must not stop it.</summary>
    const string PeftWrittenConfig = """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layer_replication": null,
          "layers_pattern": null,
          "layers_to_transform": null,
          "loftq_config": {},
          "lora_alpha": 4,
          "lora_dropout": 0.0,
          "megatron_config": null,
          "megatron_core": "megatron.core",
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 2,
          "rank_pattern": {},
          "revision": null,
          "target_modules": [
            "v_proj",
            "q_proj"
          ],
          "task_type": "CAUSAL_LM",
          "use_dora": false,
          "use_rslora": false
        }
        """;

    /// <summary>A q_proj/v_proj adapter of rank 2 for the tiny llama, written with PEFT's config.</summary>
    void WritePeftAdapter(Action<Dictionary<string, Tensor>>? edit = null, string config = PeftWrittenConfig)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var layer in new[] { 0, 1 })
            foreach (var (module, outFeatures) in new[] { ("q_proj", 64L), ("v_proj", 32L) })
            {
                tensors[$"base_model.model.model.layers.{layer}.self_attn.{module}.lora_A.weight"] = randn(2, 64) * 0.1;
                tensors[$"base_model.model.model.layers.{layer}.self_attn.{module}.lora_B.weight"] = randn(outFeatures, 2) * 0.1;
            }
        edit?.Invoke(tensors);
        SafeTensorsFile.Save(dir.File("adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(dir.File("adapter_config.json"), config);
    }

    [Fact]
    public void A_PEFT_written_adapter_loads_with_its_modules_rank_and_scaling()
    {
        WritePeftAdapter();
        using var model = TinyModels.Create(ModelFamily.Llama);
        using var adapter = PeftAdapter.Load(dir, model);
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            adapter.Paths);
        Assert.Equal(2, adapter.Settings.Rank);
        Assert.Equal(2.0, adapter.Scaling); // lora_alpha / r
        Assert.Equal("meta-llama/Llama-3.2-1B", adapter.BaseModel);
        Assert.Null(LoraAdapter.ActiveOn(model)); // loaded, not yet applied
    }

    public static IEnumerable<object[]> HostileAdapters() =>
    [
        ["wrong shape", "has shape [2, 63], expected [2, 64]"],
        ["unknown module", "'model.layers.0.self_attn.x_proj', which is not a projection"],
        ["extra tensor", "is not a LoRA pair's tensor"],
        ["half a pair", "has only one of lora_A and lora_B"],
        ["lm_head", "'lm_head', which is not a projection"],
        ["int tensor", "dtype I64"],
        ["rank", "r = 0 must be a whole number"],
        ["peft type", "peft_type = \"PREFIX_TUNING\" is not LORA"],
        ["dora", "use_dora = true is not supported"],
        ["bias", "bias = \"all\" is not supported"],
        ["modules_to_save", "modules_to_save = [\"lm_head\"] is not supported"],
        ["rank pattern", "rank_pattern = {\"q_proj\":4} is not supported"],
        ["alpha type", "a field has the wrong type"],
        ["not json", "not valid JSON"],
    ];

    [Theory]
    [MemberData(nameof(HostileAdapters))]
    public void A_hostile_adapter_is_refused_with_an_error_that_names_the_problem(string problem, string message)
    {
        string Config(string from, string to) => PeftWrittenConfig.Replace(from, to);
        const string q0 = "base_model.model.model.layers.0.self_attn.q_proj";
        switch (problem)
        {
            case "wrong shape": WritePeftAdapter(t => t[$"{q0}.lora_A.weight"] = randn(2, 63)); break;
            case "unknown module": WritePeftAdapter(t => t["base_model.model.model.layers.0.self_attn.x_proj.lora_A.weight"] = randn(2, 64)); break;
            case "extra tensor": WritePeftAdapter(t => t["base_model.model.model.embed_tokens.weight"] = randn(300, 64)); break;
            case "half a pair": WritePeftAdapter(t => t.Remove($"{q0}.lora_B.weight")); break;
            case "lm_head": WritePeftAdapter(t => t["base_model.model.lm_head.lora_A.weight"] = randn(2, 64)); break;
            case "int tensor": WritePeftAdapter(t => t[$"{q0}.lora_A.weight"] = zeros(2, 64, dtype: int64)); break;
            case "rank": WritePeftAdapter(config: Config("\"r\": 2", "\"r\": 0")); break;
            case "peft type": WritePeftAdapter(config: Config("\"LORA\"", "\"PREFIX_TUNING\"")); break;
            case "dora": WritePeftAdapter(config: Config("\"use_dora\": false", "\"use_dora\": true")); break;
            case "bias": WritePeftAdapter(config: Config("\"bias\": \"none\"", "\"bias\": \"all\"")); break;
            case "modules_to_save": WritePeftAdapter(config: Config("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]")); break;
            case "rank pattern": WritePeftAdapter(config: Config("\"rank_pattern\": {}", "\"rank_pattern\": {\"q_proj\": 4}")); break;
            case "alpha type": WritePeftAdapter(config: Config("\"lora_alpha\": 4", "\"lora_alpha\": \"four\"")); break;
            case "not json": WritePeftAdapter(config: "{\"peft_type\": "); break;
        }
        using var model = TinyModels.Create(ModelFamily.Llama);
        var error = Assert.Throws<R1Error>(() => PeftAdapter.Load(dir, model));
        Assert.Contains(message, error.Message);
        Assert.Null(LoraAdapter.ActiveOn(model));
    }

    [Fact]
    public void A_model_folder_is_not_an_adapter_and_an_adapter_folder_is_not_a_model()
    {
        WritePeftAdapter();
        var asModel = Assert.Throws<R1Error>(() => ModelBundle.Load(dir));
        Assert.Contains("this is a LoRA adapter, not a model", asModel.Message);
        using var model = TinyModels.Create(ModelFamily.Llama);
        var missing = Assert.Throws<R1Error>(() => PeftAdapter.Load(dir.File("nowhere"), model));
        Assert.Contains("adapter directory not found", missing.Message);
        string modelDir = dir.File("model");
        ModelCheckpoint.Save(model, modelDir);
        var asAdapter = Assert.Throws<R1Error>(() => PeftAdapter.Load(modelDir, model));
        Assert.Contains("this is a model, not a LoRA adapter", asAdapter.Message);
    }
}
