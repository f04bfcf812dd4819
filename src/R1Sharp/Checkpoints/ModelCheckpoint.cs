using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// A model in the Hugging Face directory layout: config.json, generation_config.json and the weights
/// (model.safetensors, or shards with model.safetensors.index.json). The tokenizer files live beside them.
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>Saves weights as float32, float16 or bfloat16 (HF's torch_dtype names).</summary>
    public static void Save(CausalLanguageModel model, string dir, string dtype = "float32", long maxShardBytes = long.MaxValue)
    {
        var target = ParseDtype(dtype);
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope();
        var tensors = model.HfStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().to(StoredType(kv.Key, target)));
        HfWeights.Save(dir, tensors, maxShardBytes);
        SaveConfigs(model.Config with { TorchDtype = dtype }, dir);
    }

    /// <summary>The dtype a tensor is saved in when the weights are saved as <paramref name="target"/>.</summary>
    internal static ScalarType StoredType(string name, ScalarType target) =>
        name.EndsWith("e_score_correction_bias") ? ScalarType.Float32 : target; // as in DeepSeek's checkpoints

    /// <summary>config.json and generation_config.json.</summary>
    internal static void SaveConfigs(ModelConfig config, string dir)
    {
        config.Save(Path.Combine(dir, ConfigFile));
        SaveGenerationConfig(config, Path.Combine(dir, GenerationConfigFile));
    }

    /// <summary>
    /// The config and its weights checked against each other (<see cref="WeightCheck"/>), reading config.json and the
    /// weights' headers only: no model is allocated and no weight byte read.
    /// </summary>
    public static (ModelConfig Config, WeightCheck Weights) Check(string dir)
    {
        if (!Directory.Exists(dir)) throw new R1Error($"{dir}: model directory not found");
        if (!File.Exists(Path.Combine(dir, ConfigFile)) && PeftAdapter.IsAdapter(dir))
            throw new R1Error($"{dir}: this is a LoRA adapter, not a model: run the base model with it (--model BASE --adapter {dir}), " +
                              $"or fold it into the base with r1 merge");
        var config = ModelConfig.Load(Path.Combine(dir, ConfigFile));
        return (config, WeightCheck.Run(dir, config));
    }

    /// <summary>
    /// Loads a checkpoint directory. The config and the weights' headers are checked first (every missing,
    /// unexpected, misshaped or mistyped tensor named in one error), so nothing is allocated for weights that won't fit.
    /// </summary>
    public static CausalLanguageModel Load(string dir, Device? device = null)
    {
        var (config, _) = Check(dir);
        var model = new CausalLanguageModel(config);
        CopyWeights(model, dir);
        model.eval();
        if (device is not null && device.type != DeviceType.CPU) model.MoveTo(device);
        return model;
    }

    /// <summary>
    /// Overwrites the weights of <paramref name="model"/> in place with those in <paramref name="dir"/> (a rollout
    /// server taking the learner's new weights): they are checked against the running model's config first, so a
    /// checkpoint of another shape is refused before a byte of the model changes. The tensors keep their addresses.
    /// </summary>
    public static void LoadInto(CausalLanguageModel model, string dir)
    {
        if (!Directory.Exists(dir)) throw new R1Error($"{dir}: model directory not found");
        WeightCheck.Run(dir, model.Config);
        CopyWeights(model, dir);
    }

    static void CopyWeights(CausalLanguageModel model, string dir)
    {
        using var scope = NewDisposeScope();
        var tensors = HfWeights.Load(dir);
        // Multi-token-prediction layers and a tied model's stored copy of the head are not loaded (see WeightCheck).
        foreach (var name in tensors.Keys.Where(n => WeightCheck.IsNotLoaded(n, model.Config)).ToList()) tensors.Remove(name);
        using var _ = no_grad();
        var own = model.HfStateDict();
        foreach (var (name, value) in tensors) own[name].copy_(value.to(own[name].dtype));
        Inference.ForwardRunner.For(model).WeightsChanged(); // in place: bf16 copies of the old weights are retaken
    }

    internal static ScalarType ParseDtype(string dtype) => dtype switch
    {
        "float32" => ScalarType.Float32,
        "float16" => ScalarType.Float16,
        "bfloat16" => ScalarType.BFloat16,
        _ => throw new R1Error($"dtype '{dtype}' is not supported (float32, float16, bfloat16)"),
    };

    static void SaveGenerationConfig(ModelConfig config, string path)
    {
        // R1's recommended sampling, so HF's generate() and our server default to it.
        var json = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = config.EosTokenIds.Length == 1 ? JsonValue.Create(config.EosTokenIds[0]) : new JsonArray(config.EosTokenIds.Select(i => (JsonNode?)i).ToArray()),
            ["do_sample"] = true,
            ["temperature"] = 0.6,
            ["top_p"] = 0.95,
        };
        if (config.PadTokenId is int pad) json["pad_token_id"] = pad;
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
