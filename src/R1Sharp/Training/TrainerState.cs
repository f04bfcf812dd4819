using System.Text.Json;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// Everything a killed run needs to continue as if it never stopped: the model (HF layout, float32), the
/// optimizer's moments, torch's RNG, and the trainer's own counters and data position.
/// </summary>
public static class TrainerState
{
    public const string OptimizerFile = "optimizer.bin";
    public const string StateFile = "trainer_state.json";
    public const string RngFile = "rng_state.bin";

    public static void Save(string dir, CausalLanguageModel model, OptimizerHelper optimizer, JsonObject state)
    {
        ModelCheckpoint.Save(model, dir);
        optimizer.save_state_dict(Path.Combine(dir, OptimizerFile));
        TorchRngState.Save(Path.Combine(dir, RngFile));
        File.WriteAllText(Path.Combine(dir, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Loads weights into <paramref name="model"/> and moments into <paramref name="optimizer"/>; returns the trainer state.</summary>
    public static JsonObject Load(string dir, CausalLanguageModel model, OptimizerHelper optimizer)
    {
        using (var loaded = ModelCheckpoint.Load(dir))
        using (no_grad())
        {
            var own = model.HfStateDict();
            foreach (var (name, value) in loaded.HfStateDict()) own[name].copy_(value);
        }
        optimizer.load_state_dict(Path.Combine(dir, OptimizerFile));
        TorchRngState.Restore(File.ReadAllBytes(Path.Combine(dir, RngFile)));
        string path = Path.Combine(dir, StateFile);
        return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new R1Error($"{path}: not a JSON object");
    }
}
