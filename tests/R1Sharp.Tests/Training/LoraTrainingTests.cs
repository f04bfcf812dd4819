using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tests.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

/// <summary>Training a LoRA adapter over a frozen base: what changes, what checkpoints hold, resuming, and GRPO's KL
/// reference as the base with the adapter switched off.</summary>
public class LoraTrainingTests
{
    static LmTrainingConfig Config(int steps) => new()
    {
        LearningRate = 1e-2, WarmupSteps = 2, MaxSteps = steps, BatchSize = 8, MaxSeqLength = 16, EvalSteps = 5, SaveSteps = 5,
        LoggingSteps = 1, Seed = 3, LoraR = 4, LoraAlpha = 8, LoraDropout = 0.1,
    };

    static (CausalLanguageModel Model, LoraAdapter Adapter, PackedTokenStream Data) Setup(LmTrainingConfig config)
    {
        var model = TinyModels.Create(ModelFamily.Llama, seed: 11);
        var adapter = config.CreateAdapter(model, "base")!;
        return (model, adapter, new PackedTokenStream(LanguageModelTrainerTests.Corpus(), config.BatchSize, config.MaxSeqLength, config.Seed));
    }

    static Dictionary<string, Tensor> Snapshot(CausalLanguageModel model) => model.HfStateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    [Fact]
    public void LoRA_training_changes_only_the_adapter_and_checkpoints_hold_only_it()
    {
        var config = Config(10);
        var (model, adapter, data) = Setup(config);
        using var _ = model;
        using var __ = adapter;
        var before = Snapshot(model);
        using var dir = new TempDir();
        using var run = RunFolder.Create(dir, "lora", "sft", config);
        new LanguageModelTrainer(model, config, data, adapter: adapter).Run(run);

        var losses = run.ReadMetrics().Select(m => m.Values["loss"]).ToList();
        Assert.True(losses[^1] < losses[0] * 0.95, $"loss went from {losses[0]:F3} to {losses[^1]:F3}");
        // The base: every weight bit for bit as before, and no gradient was ever kept for it.
        foreach (var (name, value) in model.HfStateDict())
        {
            Assert.True(before[name].eq(value).all().item<bool>(), $"{name} changed");
            Assert.False(value.requires_grad, name);
        }
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
        Assert.All(adapter.Layers, l => Assert.True(l.Layer.B.abs().sum().item<float>() > 0, $"{l.Path}: B is still 0"));

        // A checkpoint holds the adapter (PEFT's two files), not the model; the optimizer's moments are the adapter's only.
        var checkpoint = run.Checkpoints.Latest()!.Path;
        Assert.True(File.Exists(Path.Combine(checkpoint, PeftAdapter.ConfigFile)));
        Assert.False(File.Exists(Path.Combine(checkpoint, ModelCheckpoint.ConfigFile)));
        Assert.Empty(Directory.GetFiles(checkpoint, "model*.safetensors"));
        long adapterBytes = new FileInfo(Path.Combine(checkpoint, PeftAdapter.WeightsFile)).Length;
        long modelFloats = model.parameters().Sum(p => p.numel());
        long optimizerBytes = new FileInfo(Path.Combine(checkpoint, TrainerState.OptimizerFile)).Length;
        Assert.True(optimizerBytes < 4 * adapterBytes, $"optimizer state {optimizerBytes} B for an adapter of {adapterBytes} B");
        Assert.True(optimizerBytes < modelFloats, $"optimizer state {optimizerBytes} B is not far below the base's {modelFloats} weights");
    }

    [Fact]
    public void A_killed_and_resumed_LoRA_run_ends_with_the_adapter_of_an_unbroken_one()
    {
        var config = Config(8);
        using var root = new TempDir();

        var (straightModel, straightAdapter, straightData) = Setup(config);
        using var straight = RunFolder.Create(root, "straight", "sft", config);
        new LanguageModelTrainer(straightModel, config, straightData, adapter: straightAdapter).Run(straight);

        // Killed after its step-5 checkpoint (the stop's own checkpoint removed, as kill -9 leaves none).
        var (firstModel, firstAdapter, firstData) = Setup(config);
        var broken = RunFolder.Create(root, "broken", "sft", config);
        Assert.Throws<OperationCanceledException>(() => new LanguageModelTrainer(firstModel, config, firstData, adapter: firstAdapter).Run(broken,
            onStep: (step, _) => { if (step == 7) throw new OperationCanceledException(); }));
        Directory.Delete(broken.Checkpoints.Latest()!.Path, recursive: true);
        broken.Dispose();

        using var resumed = RunFolder.Resume(root, "broken", out var checkpoint);
        Assert.Equal(5, checkpoint!.Step);
        var (model, adapter, data) = Setup(config);
        new LanguageModelTrainer(model, config, data, adapter: adapter).Run(resumed, checkpoint);

        var expected = straight.ReadMetrics();
        var actual = resumed.ReadMetrics();
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        for (int i = 0; i < expected.Count; i++)
            foreach (var key in new[] { "loss", "grad_norm", "eval_loss" }.Where(expected[i].Values.ContainsKey))
                Assert.Equal(expected[i].Values[key], actual[i].Values[key]);
        foreach (var ((path, a), (_, b)) in straightAdapter.Layers.Zip(adapter.Layers))
        {
            Assert.True(a.A.eq(b.A).all().item<bool>(), path);
            Assert.True(a.B.eq(b.B).all().item<bool>(), path);
        }
        foreach (var d in new IDisposable[] { straightModel, straightAdapter, firstModel, firstAdapter, model, adapter }) d.Dispose();
    }

    [Fact]
    public void Grpos_KL_against_the_adapter_off_base_equals_the_KL_against_a_separate_base_copy()
    {
        var config = GrpoTrainerTests.Config(3) with { Beta = 0.5, LoraR = 4, LoraAlpha = 16, LoraDropout = 0 };
        using var root = new TempDir();
        var runs = new[] { true, false }.Select(separateCopy =>
        {
            var policy = GrpoTrainerTests.Policy();
            var reference = separateCopy ? GrpoTrainerTests.Policy() : null;
            var adapter = config.CreateAdapter(policy, "base")!;
            var run = RunFolder.Create(root, separateCopy ? "copy" : "switched-off", "grpo", config);
            new GrpoTrainer(policy, config, GrpoTrainerTests.Environment(), reference, adapter).Run(run);
            var metrics = run.ReadMetrics();
            var weights = adapter.Layers.Select(l => (l.Layer.A.clone(), l.Layer.B.clone())).ToList();
            foreach (var d in new IDisposable?[] { run, adapter, reference, policy }) d?.Dispose();
            return (Metrics: metrics, Weights: weights);
        }).ToList();
        var (copy, switchedOff) = (runs[0], runs[1]);

        var kl = copy.Metrics.Select(m => m.Values[MetricNames.Kl]).ToList();
        Assert.Equal(0, kl[0]); // a fresh adapter is the base
        Assert.True(kl[^1] > 0, "the adapter never moved away from the base");
        Assert.Equal(kl, switchedOff.Metrics.Select(m => m.Values[MetricNames.Kl]));
        Assert.Equal(copy.Metrics.Select(m => m.Values[MetricNames.Loss]), switchedOff.Metrics.Select(m => m.Values[MetricNames.Loss]));
        foreach (var ((a1, b1), (a2, b2)) in copy.Weights.Zip(switchedOff.Weights))
            Assert.True(a1.eq(a2).all().item<bool>() && b1.eq(b2).all().item<bool>());
    }
}
