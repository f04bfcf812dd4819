using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tests.Model;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

public class GrpoTrainerTests
{
    /// <summary>A task whose reward a test can compute by hand: a completion is right when it starts with a lowercase letter.</summary>
    internal sealed class StartsWithLetterTask : IVerifiableTask
    {
        public string Name => "starts-with-letter";

        public IEnumerable<TaskExample> Examples(TaskSplit split, int seed)
        {
            for (int i = 0; ; i++) yield return new TaskExample($"p{i}", [ChatMessage.User($"q{i % 3}")], "letter", 1);
        }

        public bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) =>
            completion.Length > 0 && completion[0] is >= 'a' and <= 'z';

        public string? VoteKey(string completion, bool templateOpenedThink = false) => null;
    }

    static readonly ByteTokenizer Tokenizer = new();

    internal static GrpoEnvironment Environment() => new(new StartsWithLetterTask(),
        new CompositeReward([new WeightedReward(new AccuracyReward(), 1.0)]), Tokenizer,
        e => Tokenizer.Encode(e.Prompt[0].Content), TemplateOpensThink: false);

    internal static GrpoConfig Config(int steps) => new()
    {
        NumGenerations = 8, PromptsPerStep = 4, MaxCompletionLength = 4, MaxPromptLength = 16, LearningRate = 2e-2,
        LrSchedulerType = LrSchedulerType.Constant, MaxSteps = steps, SaveSteps = 2, Seed = 5,
    };

    internal static CausalLanguageModel Policy() => TinyModels.Create(ModelFamily.Llama, seed: 2, edit: c => c with { VocabSize = Tokenizer.VocabSize });

    /// <summary>Probability that the first completion token is a lowercase letter (the rewarded ones).</summary>
    static double RewardedMass(CausalLanguageModel model)
    {
        using var _ = no_grad();
        model.eval();
        double total = 0;
        for (int q = 0; q < 3; q++)
        {
            var ids = tensor(Tokenizer.Encode($"q{q}").Select(i => (long)i).ToArray()).unsqueeze(0);
            var probs = model.Forward(ids)[0, -1].softmax(-1);
            total += probs.narrow(0, 'a', 26).sum().item<float>();
        }
        return total / 3;
    }

    [Fact]
    public void Grpo_steps_raise_the_probability_of_rewarded_completions_and_lower_the_others()
    {
        using var policy = Policy();
        double before = RewardedMass(policy);
        using var dir = new TempDir();
        using var run = RunFolder.Create(dir, "grpo", "grpo", Config(6));
        new GrpoTrainer(policy, Config(6), Environment()).Run(run);
        double after = RewardedMass(policy);
        Assert.True(after > before * 1.5, $"rewarded first-token mass went from {before:F4} to {after:F4}");
        Assert.True(1 - after < 1 - before);
        var metrics = run.ReadMetrics();
        Assert.Equal(6, metrics.Count);
        Assert.Contains(MetricNames.Reward, metrics[0].Values.Keys);
        Assert.Contains(MetricNames.Entropy, metrics[0].Values.Keys);
        Assert.NotEmpty(File.ReadAllLines(run.Samples.Path));
    }

    [SkippableFact]
    public void Bf16_rollouts_log_their_log_prob_gap_to_the_fp32_learner()
    {
        Skip.If(R1Sharp.Inference.SimdKernels.Active == R1Sharp.Inference.SimdWidth.None, "bf16 rollout weights run on the CPU kernels, which do not run here");
        double Gap(Precision rollouts, out CausalLanguageModel policy)
        {
            var config = Config(2) with { Precision = Precision.Fp32, RolloutPrecision = rollouts };
            policy = Policy();
            using var dir = new TempDir();
            using var run = RunFolder.Create(dir, "grpo", "grpo", config);
            new GrpoTrainer(policy, config, Environment()).Run(run);
            var metrics = run.ReadMetrics();
            Assert.All(metrics, m => Assert.True(m.Values[MetricNames.RolloutLogProbDiffMax] >= m.Values[MetricNames.RolloutLogProbDiffMean]));
            return metrics.Max(m => m.Values[MetricNames.RolloutLogProbDiffMean]);
        }
        double fp32 = Gap(Precision.Fp32, out var first);
        double bf16 = Gap(Precision.Bf16, out var second);
        using (first)
        using (second)
        {
            // The learner recomputes every log-prob with its fp32 weights: bf16 rollouts (copies retaken after each
            // step) differ from it by the weights' rounding, fp32 ones only by the kernels' summation order.
            Assert.True(bf16 > fp32, $"bf16 rollouts' gap {bf16} should exceed fp32's {fp32}");
            Assert.InRange(bf16, 1e-6, 0.05);
            Assert.Equal(Precision.Fp32, R1Sharp.Inference.ForwardRunner.For(second).WeightPrecision); // restored after the run
        }
    }

    [Fact]
    public void A_stopped_and_resumed_grpo_run_logs_the_same_metrics_as_an_unbroken_one()
    {
        using var root = new TempDir();
        var config = Config(4);
        using var straightPolicy = Policy();
        using var straight = RunFolder.Create(root, "straight", "grpo", config);
        new GrpoTrainer(straightPolicy, config, Environment()).Run(straight);

        // Stopped after step 3 (between its step-2 and step-4 checkpoints), the run saves step 3 on its way out.
        using var firstPolicy = Policy();
        var broken = RunFolder.Create(root, "broken", "grpo", config);
        Assert.Throws<OperationCanceledException>(() => new GrpoTrainer(firstPolicy, config, Environment()).Run(broken,
            onStep: (step, _) => { if (step == 3) throw new OperationCanceledException(); }));
        broken.Dispose();
        using var resumed = RunFolder.Resume(root, "broken", out var checkpoint);
        Assert.Equal(3, checkpoint!.Step);
        using var policy = Policy();
        new GrpoTrainer(policy, config, Environment()).Run(resumed, checkpoint);

        string[] timing = [MetricNames.StepTime, MetricNames.RolloutTokensPerSecond, MetricNames.TrainTokensPerSecond];
        var expected = straight.ReadMetrics();
        var actual = resumed.ReadMetrics();
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        for (int i = 0; i < expected.Count; i++)
            foreach (var (key, value) in expected[i].Values.Where(kv => !timing.Contains(kv.Key)))
                Assert.True(value.Equals(actual[i].Values[key]), $"step {expected[i].Step} {key}: {value} vs {actual[i].Values[key]}");
    }

    [Fact]
    public void Dynamic_sampling_trains_only_on_groups_whose_rewards_differ()
    {
        using var policy = Policy();
        var config = Config(2) with { DynamicSampling = true, MaxNumGenBatches = 3 };
        using var dir = new TempDir();
        using var run = RunFolder.Create(dir, "dyn", "grpo", config);
        new GrpoTrainer(policy, config, Environment()).Run(run);
        foreach (var row in run.ReadMetrics())
            Assert.InRange(row.Values["generation_rounds"], 1, 3);
    }
}
