using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tests.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

public class LanguageModelTrainerTests
{
    // A corpus with structure to learn: counting sequences.
    internal static List<int[]> Corpus() => Enumerable.Range(0, 60)
        .Select(i => Enumerable.Range(i % 20, 12).Select(t => 10 + t).Append(2).ToArray()).ToList();

    static LmTrainingConfig Config(int steps) => new()
    {
        LearningRate = 3e-3, WarmupSteps = 5, MaxSteps = steps, BatchSize = 8, MaxSeqLength = 16,
        EvalSteps = 10, SaveSteps = 10, LoggingSteps = 1, Seed = 3,
    };

    static (CausalLanguageModel, PackedTokenStream) Setup(LmTrainingConfig config)
    {
        var model = TinyModels.Create(ModelFamily.Llama, seed: 11);
        return (model, new PackedTokenStream(Corpus(), config.BatchSize, config.MaxSeqLength, config.Seed));
    }

    [Fact]
    public void Pretraining_lowers_the_loss()
    {
        var config = Config(30);
        var (model, data) = Setup(config);
        using var _ = model;
        using var dir = new TempDir();
        using var run = RunFolder.Create(dir, "pretrain", "pretrain", config);
        new LanguageModelTrainer(model, config, data).Run(run);
        var losses = run.ReadMetrics().Select(m => m.Values["loss"]).ToList();
        Assert.Equal(30, losses.Count);
        Assert.True(losses[^1] < losses[0] * 0.5, $"loss went from {losses[0]:F3} to {losses[^1]:F3}");
        Assert.NotNull(run.Checkpoints.Latest());
    }

    [Fact]
    public void A_killed_and_resumed_run_logs_the_same_losses_as_an_unbroken_one()
    {
        var config = Config(20);
        using var root = new TempDir();

        var (straightModel, straightData) = Setup(config);
        using var straight = RunFolder.Create(root, "straight", "pretrain", config);
        new LanguageModelTrainer(straightModel, config, straightData).Run(straight);

        // Stop the run at step 13, after its step-10 checkpoint: the stop saves step 13 on its way out ...
        var (firstModel, firstData) = Setup(config);
        var broken = RunFolder.Create(root, "broken", "pretrain", config);
        Assert.Throws<OperationCanceledException>(() => new LanguageModelTrainer(firstModel, config, firstData).Run(broken,
            onStep: (step, _) => { if (step == 13) throw new OperationCanceledException(); }));
        Assert.Equal([10, 13], broken.Checkpoints.List().Select(c => c.Step));
        // ... which a kill -9 would not have done: without it the run resumes from step 10, as a new process would.
        Directory.Delete(broken.Checkpoints.Latest()!.Path, recursive: true);
        broken.Dispose();

        using var resumed = RunFolder.Resume(root, "broken", out var checkpoint);
        Assert.Equal(10, checkpoint!.Step);
        var (model, data) = Setup(config);
        new LanguageModelTrainer(model, config, data).Run(resumed, checkpoint);

        string[] deterministic = ["loss", "learning_rate", "grad_norm", "tokens_seen", "eval_loss"];
        var expected = straight.ReadMetrics();
        var actual = resumed.ReadMetrics();
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        for (int i = 0; i < expected.Count; i++)
            foreach (var key in deterministic.Where(expected[i].Values.ContainsKey))
                Assert.Equal(expected[i].Values[key], actual[i].Values[key]);
    }
}
