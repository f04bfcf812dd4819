using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// A LoRA adapter folder in PEFT's format, as <c>save_pretrained</c> writes it and PEFT and vLLM load it:
/// <c>adapter_config.json</c> (LoraConfig's keys) and <c>adapter_model.safetensors</c> with, for each wrapped projection,
/// <c>base_model.model.&lt;HF module path&gt;.lora_A.weight</c> [r, in] and <c>….lora_B.weight</c> [out, r] — PEFT's names
/// without the adapter's name — and nothing else (vLLM refuses other tensors). Files are untrusted: the config is read
/// bounded and checked field by field, and every tensor's name and shape is checked against the model before any
/// tensor memory is allocated.
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    /// <summary>What PEFT's PeftModel puts before the HF module path (its LoraModel, then the transformers model).</summary>
    public const string KeyPrefix = "base_model.model.";
    const long MaxConfigBytes = 1 << 20;

    /// <summary>Whether <paramref name="dir"/> holds an adapter (it may still be invalid).</summary>
    public static bool IsAdapter(string dir) => File.Exists(Path.Combine(dir, ConfigFile));

    /// <summary>The safetensors key of a pair's tensor: A or B of the projection at <paramref name="path"/>.</summary>
    public static string Key(string path, char matrix) => $"{KeyPrefix}{path}.lora_{matrix}.weight";

    /// <summary>Writes <paramref name="adapter"/> to <paramref name="dir"/> (float32), each file whole or not at all.</summary>
    public static void Save(LoraAdapter adapter, string dir)
    {
        Directory.CreateDirectory(dir);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, layer) in adapter.Layers)
        {
            tensors[Key(path, 'A')] = layer.A;
            tensors[Key(path, 'B')] = layer.B;
        }
        SafeTensorsFile.Save(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), ConfigJson(adapter).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>LoraConfig's keys as PEFT writes them (sorted, inference_mode true); "all-linear" is written as the
    /// module names it stood for, as PEFT does.</summary>
    static JsonObject ConfigJson(LoraAdapter adapter)
    {
        var s = adapter.Settings;
        JsonNode targets = s.TargetModules switch
        {
            { Names: { } names } => new JsonArray(names.Select(n => (JsonNode?)n).ToArray()),
            { Pattern: { } pattern } => pattern,
            _ => new JsonArray(adapter.Paths.Select(p => p.Split('.')[^1]).Distinct().Order(StringComparer.Ordinal).Select(n => (JsonNode?)n).ToArray()),
        };
        return new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = adapter.BaseModel,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = s.Alpha == Math.Floor(s.Alpha) && Math.Abs(s.Alpha) < int.MaxValue ? JsonValue.Create((int)s.Alpha) : JsonValue.Create(s.Alpha),
            ["lora_dropout"] = s.Dropout,
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = s.Rank,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = targets,
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = s.UseRslora,
        };
    }

    /// <summary>The adapter's settings and base model from its adapter_config.json; what R1Sharp cannot apply is an error naming the key.</summary>
    public static (LoraSettings Settings, string BaseModel) ReadConfig(string dir)
    {
        string path = Path.Combine(dir, ConfigFile);
        if (!Directory.Exists(dir)) throw new R1Error($"{dir}: adapter directory not found");
        if (!File.Exists(path))
            throw new R1Error(File.Exists(Path.Combine(dir, ModelCheckpoint.ConfigFile))
                ? $"{dir}: this is a model, not a LoRA adapter (no {ConfigFile}); use it as --model"
                : $"{dir}: no {ConfigFile}, so this is not a LoRA adapter folder");
        if (new FileInfo(path).Length > MaxConfigBytes) throw new R1Error($"{path}: over {MaxConfigBytes} bytes, too big for an adapter config");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new R1Error($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new R1Error($"{path}: not valid JSON ({e.Message})", e);
        }
        try
        {
            T Get<T>(string key, T fallback) => json[key] is { } node && node.GetValueKind() != JsonValueKind.Null ? node.GetValue<T>() : fallback;
            void Require(bool ok, string key, string rule)
            {
                if (!ok) throw new R1Error($"{path}: {key} = {json[key]?.ToJsonString() ?? "null"} {rule}");
            }
            string peftType = Get("peft_type", "");
            Require(peftType == "LORA", "peft_type", "is not LORA: only LoRA adapters are supported");
            double r = Get("r", 8.0);
            Require(r is >= 1 and <= 65536 && r == Math.Floor(r), "r", "must be a whole number from 1 to 65536");
            int rank = (int)r;
            Require(Get("bias", "none") == "none", "bias", "is not supported: only bias \"none\" (no trained biases)");
            Require(!Get("fan_in_fan_out", false), "fan_in_fan_out", "is not supported: these models store weights as [out, in]");
            Require(!Get("use_dora", false), "use_dora", "is not supported: DoRA is not LoRA");
            foreach (var key in new[] { "rank_pattern", "alpha_pattern" })
                Require(json[key] is null || json[key] is JsonObject { Count: 0 }, key, "is not supported: one rank and alpha for every module");
            Require(json["modules_to_save"] is null || json["modules_to_save"] is JsonArray { Count: 0 }, "modules_to_save",
                "is not supported: an adapter may hold LoRA pairs only");
            LoraTargetModules? targets = json["target_modules"] is { } t && t.GetValueKind() != JsonValueKind.Null
                ? t.Deserialize<LoraTargetModules>() : null;
            var settings = new LoraSettings(rank, Get("lora_alpha", 8.0), Get("lora_dropout", 0.0), targets, Get("use_rslora", false));
            try
            {
                settings.Validate();
            }
            catch (R1Error e)
            {
                throw new R1Error($"{path}: {e.Message}", e);
            }
            return (settings, Get("base_model_name_or_path", ""));
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new R1Error($"{path}: a field has the wrong type ({e.Message})", e);
        }
    }

    /// <summary>
    /// Loads the adapter in <paramref name="dir"/> for <paramref name="model"/> (attached, not active). Every tensor must be
    /// a lora_A or lora_B of a projection of the model, with PEFT's name and the shape r and the projection give.
    /// </summary>
    public static LoraAdapter Load(string dir, CausalLanguageModel model)
    {
        var (settings, baseModel) = ReadConfig(dir);
        var paths = CheckTensors(dir, model, settings.Rank);
        var adapter = LoraAdapter.Empty(model, settings, baseModel, paths);
        try
        {
            CopyTensors(dir, adapter);
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
        return adapter;
    }

    /// <summary>Loads the tensors of the adapter in <paramref name="dir"/> into <paramref name="adapter"/>, which must wrap
    /// the same projections with the same rank (a resumed run's checkpoint).</summary>
    public static void LoadInto(LoraAdapter adapter, string dir)
    {
        var paths = CheckTensors(dir, adapter.Model, adapter.Settings.Rank);
        if (!paths.SetEquals(adapter.Paths))
            throw new R1Error($"{dir}: the adapter wraps {paths.Count} projections, not the {adapter.Paths.Count} of this run's adapter (lora_target_modules changed?)");
        CopyTensors(dir, adapter);
    }

    /// <summary>Checks every tensor's name and shape from the header alone; returns the wrapped module paths.</summary>
    static HashSet<string> CheckTensors(string dir, CausalLanguageModel model, int rank)
    {
        string path = Path.Combine(dir, WeightsFile);
        if (!File.Exists(path))
            throw new R1Error(File.Exists(Path.Combine(dir, "adapter_model.bin"))
                ? $"{dir}: only adapter_model.bin (a pickle); R1Sharp reads {WeightsFile} (PEFT writes it by default since 0.6)"
                : $"{dir}: no {WeightsFile}");
        var header = SafeTensorsFile.ReadHeader(path);
        var projections = LoraAdapter.LinearLayers(model).ToDictionary(l => l.Path, l => l.Projection, StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in header.Tensors.Values)
        {
            string name = SafeTensorsHeader.Quote(entry.Name);
            char matrix = entry.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal) ? 'A'
                : entry.Name.EndsWith(".lora_B.weight", StringComparison.Ordinal) ? 'B' : '?';
            if (matrix == '?' || !entry.Name.StartsWith(KeyPrefix, StringComparison.Ordinal))
                throw new R1Error($"{path}: tensor {name} is not a LoRA pair's tensor ({KeyPrefix}<module>.lora_A.weight or .lora_B.weight); " +
                                  "R1Sharp applies LoRA to projections only (no modules_to_save, biases or embeddings)");
            string module = entry.Name[KeyPrefix.Length..^".lora_A.weight".Length];
            if (!projections.TryGetValue(module, out var projection))
                throw new R1Error($"{path}: tensor {name} wraps '{UntrustedText.Printable(module)}', which is not a projection of this {model.Config.Family} model");
            long[] expected = matrix == 'A' ? [rank, projection.InFeatures] : [projection.OutFeatures, rank];
            if (!entry.Shape.SequenceEqual(expected))
                throw new R1Error($"{path}: tensor {name} has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", expected)}] (r = {rank})");
            if (entry.Dtype is not ("F32" or "F16" or "BF16"))
                throw new R1Error($"{path}: tensor {name} has dtype {entry.Dtype}; LoRA weights are F32, F16 or BF16");
            seen[module] = seen.GetValueOrDefault(module) + 1;
        }
        if (seen.Count == 0) throw new R1Error($"{path}: holds no LoRA tensors");
        foreach (var (module, count) in seen)
            if (count != 2) throw new R1Error($"{path}: module '{UntrustedText.Printable(module)}' has only one of lora_A and lora_B");
        return seen.Keys.ToHashSet(StringComparer.Ordinal);
    }

    static void CopyTensors(string dir, LoraAdapter adapter)
    {
        using var scope = NewDisposeScope();
        var tensors = SafeTensorsFile.Load(Path.Combine(dir, WeightsFile));
        using var _ = no_grad();
        foreach (var (path, layer) in adapter.Layers)
        {
            layer.A.copy_(tensors[Key(path, 'A')].to(layer.A.dtype));
            layer.B.copy_(tensors[Key(path, 'B')].to(layer.B.dtype));
        }
    }

    /// <summary>
    /// `r1 merge`: the base model in <paramref name="baseDir"/> with the adapter in <paramref name="adapterDir"/> folded
    /// into its weights (W + scaling · B @ A), saved with its tokenizer to <paramref name="outDir"/> in the HF layout
    /// (float32), so anything that reads a model folder — `r1 export gguf` included — runs the adapted model.
    /// </summary>
    public static void Merge(string baseDir, string adapterDir, string outDir)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        foreach (var (dir, what) in new[] { (baseDir, "base model"), (adapterDir, "adapter") })
            if (string.Equals(full, Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)), StringComparison.Ordinal))
                throw new R1Error($"--out {outDir} is the {what}'s folder; write the merged model to a new folder");
        using var bundle = ModelBundle.Load(baseDir, adapterDir: adapterDir);
        bundle.Adapter!.MergeIntoModel();
        AtomicFile.WriteDirectory(outDir, bundle.Save);
    }
}
