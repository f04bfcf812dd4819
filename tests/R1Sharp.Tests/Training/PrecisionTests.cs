using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tests.Model;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Training;

/// <summary>Mixed precision: the decision (fp32, bf16, auto), libtorch's autocast, and bf16 training against fp32.</summary>
public class PrecisionTests
{
    static readonly ProductShape[] Shapes = [new(512, 64, 64, 4), new(512, 64, 172, 3), new(512, 64, 300, 1)];

    static void SkipWithoutAutocast() => Skip.IfNot(Autocast.IsAvailable, $"libtorch's autocast is not available: {Autocast.Unavailable}");

    /// <summary>A timer that says bf16 products take <paramref name="bf16Share"/> of fp32's time (flops-proportional).</summary>
    static ProductTimer Injected(double bf16Share, List<ScalarType>? calls = null) => (shape, dtype, _) =>
    {
        calls?.Add(dtype);
        double fp32 = shape.TrainingFlops / 50e9;
        return dtype == bfloat16 ? fp32 * bf16Share : fp32;
    };

    [SkippableFact]
    public void Auto_chooses_fp32_when_bf16_is_slower()
    {
        SkipWithoutAutocast();
        var calls = new List<ScalarType>();
        var choice = MixedPrecision.Decide(Precision.Auto, CPU, Shapes, Injected(2.0, calls));
        Assert.Equal(Precision.Fp32, choice.Precision);
        Assert.Contains("auto measured", choice.Reason);
        Assert.Contains("1.3× faster", choice.Reason); // the rule is stated
        // Smallest shape first: bf16 is over budget after two shapes, so the costliest is not measured in bf16.
        Assert.Equal(3, calls.Count(d => d == float32));
        Assert.Equal(2, calls.Count(d => d == bfloat16));
        Assert.Contains("after 2 of 3 shapes", choice.Reason);
    }

    [SkippableTheory]
    [InlineData(0.3, Precision.Bf16)]  // 3.3× faster: taken
    [InlineData(0.9, Precision.Fp32)]  // 1.1× faster: within the margin, not clearly faster
    [InlineData(1.0, Precision.Fp32)]
    public void Auto_takes_bf16_only_when_clearly_faster(double bf16Share, Precision expected)
    {
        SkipWithoutAutocast();
        var choice = MixedPrecision.Decide(Precision.Auto, CPU, Shapes, Injected(bf16Share));
        Assert.Equal(expected, choice.Precision);
        Assert.Contains($"{Shapes.Sum(s => s.Count)} products of {Shapes.Length} shapes, 512 rows", choice.Reason);
    }

    [SkippableFact]
    public void Auto_remembers_its_choice_on_this_machine_so_a_later_timing_cannot_change_it()
    {
        SkipWithoutAutocast();
        using var dir = new TempDir();
        var memo = new PrecisionMemo(dir.File("precision.json"));
        var first = MixedPrecision.Decide(Precision.Auto, CPU, Shapes, Injected(0.3), memo);
        Assert.Equal(Precision.Bf16, first.Precision);
        // A later run here measures nothing and trains alike, whatever the CPU's load would make a timing say now.
        ProductTimer never = (_, _, _) => throw new InvalidOperationException("measured again");
        var again = MixedPrecision.Decide(Precision.Auto, CPU, Shapes, never, new PrecisionMemo(dir.File("precision.json")));
        Assert.Equal(Precision.Bf16, again.Precision);
        Assert.Contains("remembered in", again.Reason);
        // Other shapes are another question; a damaged file is measured over.
        Assert.Equal(Precision.Fp32, MixedPrecision.Decide(Precision.Auto, CPU, [new(512, 64, 64, 1)], Injected(2.0), memo).Precision);
        File.WriteAllText(dir.File("precision.json"), "{\"x\": {\"precision\": \"auto\"}}");
        Assert.Equal(Precision.Fp32, MixedPrecision.Decide(Precision.Auto, CPU, Shapes, Injected(1.0), memo).Precision);
    }

    [Fact]
    public void Asked_precisions_are_taken_without_measuring()
    {
        ProductTimer never = (_, _, _) => throw new InvalidOperationException("measured");
        Assert.Equal(Precision.Fp32, MixedPrecision.Decide(Precision.Fp32, CPU, Shapes, never).Precision);
        if (Autocast.IsAvailable)
            Assert.Equal(Precision.Bf16, MixedPrecision.Decide(Precision.Bf16, CPU, Shapes, never).Precision);
        else
            Assert.Throws<R1Error>(() => MixedPrecision.Decide(Precision.Bf16, CPU, Shapes, never));
    }

    [Fact]
    public void The_measured_shapes_are_the_models_weight_matrices_at_the_runs_rows()
    {
        using var tied = TinyModels.Create(ModelFamily.Llama, edit: c => c with { TieWordEmbeddings = true });
        using var untied = TinyModels.Create(ModelFamily.Llama, edit: c => c with { TieWordEmbeddings = false });
        int matrices = tied.Config.NumHiddenLayers * 7; // q k v o gate up down
        var tiedShapes = MixedPrecision.Shapes(tied, rows: 8 * 16);
        Assert.All(tiedShapes, s => Assert.Equal(128, s.Rows));
        Assert.Equal(matrices + 1, tiedShapes.Sum(s => s.Count)); // + the embedding as output head
        var untiedShapes = MixedPrecision.Shapes(untied, rows: 32 * 256);
        Assert.All(untiedShapes, s => Assert.Equal(MixedPrecision.MeasuredRows, s.Rows));
        Assert.Equal(matrices + 1, untiedShapes.Sum(s => s.Count)); // + lm_head, not the looked-up embedding
        Assert.Contains(untiedShapes, s => s.In == untied.Config.HiddenSize && s.Out == TinyModels.Vocab);

        using var moe = TinyModels.Create(ModelFamily.DeepseekV3);
        Assert.DoesNotContain(MixedPrecision.Shapes(moe, 64), s => s.Out == moe.Config.NRoutedExperts && s.In == moe.Config.HiddenSize);
    }

    [SkippableFact]
    public void The_real_timer_measures_both_precisions()
    {
        SkipWithoutAutocast();
        var shape = new ProductShape(32, 64, 48, 1);
        Assert.True(MixedPrecision.TimeProducts(shape, float32, CPU) > 0);
        Assert.True(MixedPrecision.TimeProducts(shape, bfloat16, CPU) > 0);
        var choice = MixedPrecision.Decide(Precision.Auto, CPU, [shape]);
        Assert.Same(choice, MixedPrecision.Decide(Precision.Auto, CPU, [shape])); // decided once per process
    }

    [SkippableFact]
    public void Under_autocast_products_run_in_bf16_while_weights_norms_and_losses_stay_fp32()
    {
        SkipWithoutAutocast();
        using var model = TinyModels.Create(ModelFamily.Llama);
        model.train();
        var ids = randint(TinyModels.Vocab, [2, 8], dtype: int64);
        var choice = new PrecisionChoice(Precision.Bf16, "test");
        Tensor logits, loss, normed;
        using (choice.Autocast(model.Device))
        {
            Assert.True(Autocast.IsOn(CPU));
            logits = model.Forward(ids);
            loss = LanguageModelLoss.Compute(logits, ids);
            normed = new RmsNorm(4, 1e-6).forward(ones(2, 4, dtype: bfloat16));
            using (Autocast.Off(CPU))
            {
                Assert.False(Autocast.IsOn(CPU));
                Assert.Equal(float32, nn.functional.linear(ones(2, 4), ones(3, 4)).dtype);
            }
            Assert.True(Autocast.IsOn(CPU));
        }
        Assert.False(Autocast.IsOn(CPU));
        Assert.Equal(bfloat16, logits.dtype);
        Assert.Equal(float32, loss.dtype);
        Assert.Equal(float32, normed.dtype); // fp32 statistics, fp32 gain
        loss.backward();
        Assert.All(model.parameters(), p => Assert.Equal(float32, p.dtype));
        Assert.All(model.parameters().Where(p => p.grad is not null), p => Assert.Equal(float32, p.grad!.dtype));
        // Outside the region the same forward is fp32 again.
        Assert.Equal(float32, model.Forward(ids).dtype);
    }

    [SkippableFact]
    public void The_moe_router_stays_fp32_inside_a_bf16_forward()
    {
        SkipWithoutAutocast();
        using var model = TinyModels.Create(ModelFamily.DeepseekV3);
        var moe = model.Layers.Select(l => l.Moe).First(m => m is not null)!;
        var x = randn(6, model.Config.HiddenSize);
        var (expectedIndices, expectedWeights) = moe.Gate.Route(x);
        using (Autocast.On(CPU))
        {
            var (indices, weights) = moe.Gate.Route(x);
            Assert.Equal(expectedIndices.data<long>().ToArray(), indices.data<long>().ToArray());
            Assert.Equal(expectedWeights.data<float>().ToArray(), weights.data<float>().ToArray());
        }
    }

    // --- Training: bf16 against fp32 ---

    static List<int[]> Corpus() => Enumerable.Range(0, 60)
        .Select(i => Enumerable.Range(i % 20, 12).Select(t => 10 + t).Append(2).ToArray()).ToList();

    static LmTrainingConfig Config(int steps, Precision precision) => new()
    {
        LearningRate = 3e-3, WarmupSteps = 10, MaxSteps = steps, BatchSize = 8, MaxSeqLength = 16,
        EvalSteps = 0, SaveSteps = 10, Seed = 3, Precision = precision,
    };

    static List<double> Train(RunFolder run, LmTrainingConfig config, CheckpointInfo? from = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null)
    {
        using var model = TinyModels.Create(ModelFamily.Llama, seed: 11);
        new LanguageModelTrainer(model, config, new PackedTokenStream(Corpus(), config.BatchSize, config.MaxSeqLength, config.Seed))
            .Run(run, from, onStep);
        return run.ReadMetrics().Select(m => m.Values["loss"]).ToList();
    }

    /// <summary>
    /// Over 200 steps the bf16 run's loss follows fp32's: every 25-step window's mean within 0.02 nats, and both
    /// learn the corpus. bf16 keeps 8 bits of mantissa in the products; the master weights, AdamW and the loss stay fp32,
    /// so the two runs drift apart only by rounding, not systematically.
    /// </summary>
    [SkippableFact]
    public void Bf16_training_follows_the_fp32_loss_curve()
    {
        SkipWithoutAutocast();
        using var root = new TempDir();
        LmTrainingConfig Curve(Precision precision) => Config(200, precision) with { BatchSize = 4, SaveSteps = 0 };
        using var fp32Run = RunFolder.Create(root, "fp32", "pretrain", Curve(Precision.Fp32));
        using var bf16Run = RunFolder.Create(root, "bf16", "pretrain", Curve(Precision.Bf16));
        var fp32 = Train(fp32Run, Curve(Precision.Fp32));
        var bf16 = Train(bf16Run, Curve(Precision.Bf16));
        Assert.NotEqual(fp32, bf16); // the products really ran in another precision
        var windows = new List<string>();
        for (int start = 0; start < 200; start += 25)
        {
            double a = fp32.Skip(start).Take(25).Average(), b = bf16.Skip(start).Take(25).Average();
            windows.Add($"{start}: {a:F4}/{b:F4}");
            Assert.True(Math.Abs(a - b) <= 0.02, $"steps {start}–{start + 24}: fp32 mean loss {a:F4}, bf16 {b:F4}");
        }
        Console.WriteLine($"fp32/bf16 mean loss per 25 steps: {string.Join(", ", windows)}");
        Assert.True(bf16[^1] < bf16[0] * 0.3, $"bf16 loss went from {bf16[0]:F3} to {bf16[^1]:F3}");
        var state = File.ReadAllText(Path.Combine(bf16Run.Checkpoints.Latest()!.Path, TrainerState.StateFile));
        Assert.Contains("\"precision\": \"bf16\"", state);
    }

    [SkippableFact]
    public void A_resumed_bf16_run_logs_the_same_metrics_as_an_unkilled_one()
    {
        SkipWithoutAutocast();
        var config = Config(20, Precision.Bf16);
        using var root = new TempDir();
        using var straight = RunFolder.Create(root, "straight", "pretrain", config);
        Train(straight, config);

        var broken = RunFolder.Create(root, "broken", "pretrain", config);
        Assert.Throws<OperationCanceledException>(() => Train(broken, config,
            onStep: (step, _) => { if (step == 13) throw new OperationCanceledException(); }));
        Directory.Delete(broken.Checkpoints.Latest()!.Path, recursive: true); // as a kill -9: back to step 10
        broken.Dispose();

        // Resumed with auto, which could measure its way to fp32: the checkpoint's bf16 wins.
        using var resumed = RunFolder.Resume(root, "broken", out var checkpoint);
        Assert.Equal(10, checkpoint!.Step);
        Train(resumed, config with { Precision = Precision.Auto }, checkpoint);

        string[] deterministic = ["loss", "learning_rate", "grad_norm", "tokens_seen"];
        var expected = straight.ReadMetrics();
        var actual = resumed.ReadMetrics();
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        for (int i = 0; i < expected.Count; i++)
            foreach (var key in deterministic)
                Assert.Equal(expected[i].Values[key], actual[i].Values[key]);
    }

    [SkippableFact]
    public void A_resumed_run_refuses_another_explicit_precision()
    {
        SkipWithoutAutocast();
        var config = Config(10, Precision.Bf16) with { SaveSteps = 5 };
        using var root = new TempDir();
        var first = RunFolder.Create(root, "r", "pretrain", config);
        Assert.Throws<OperationCanceledException>(() => Train(first, config,
            onStep: (step, _) => { if (step == 5) throw new OperationCanceledException(); }));
        first.Dispose();
        using var resumed = RunFolder.Resume(root, "r", out var checkpoint);
        var error = Assert.Throws<R1Error>(() => Train(resumed, config with { Precision = Precision.Fp32 }, checkpoint));
        Assert.Contains("trained in bf16", error.Message);
    }

    [Fact]
    public void Precision_is_a_config_key_of_every_trainer()
    {
        Assert.Equal("fp32", SnakeCase.Name(Precision.Fp32));
        Assert.Equal("bf16", SnakeCase.Name(Precision.Bf16));
        Assert.Equal(Precision.Auto, new LmTrainingConfig().Precision);
        Assert.Equal(Precision.Bf16, ConfigJson.Read("{\"precision\": \"bf16\"}", "c.json", new GrpoConfig()).Precision);
        Assert.Equal(Precision.Fp32, ConfigJson.Read("{\"training\": {\"precision\": \"fp32\"}}", "c.json",
            new R1Sharp.Distillation.DistillConfig()).Training.Precision);
        Assert.Contains("\"precision\": \"auto\"", ConfigJson.Write(new LmTrainingConfig()));
        Assert.DoesNotContain("rows_per_micro_batch", ConfigJson.Write(new GrpoConfig()));
        Assert.Equal(Precision.Auto, ConfigJson.Read("{\"precision\": \"auto\"}", "c.json", new R1Sharp.Quickstart.QuickstartConfig()).Precision);
        // The quickstart pins fp32: a timing near auto's margin must not choose its headline numbers.
        Assert.Equal(Precision.Fp32, new R1Sharp.Quickstart.QuickstartConfig().Precision);
        var error = Assert.Throws<R1Error>(() => ConfigJson.Read("{\"precision\": \"fp16\"}", "c.json", new LmTrainingConfig()));
        Assert.Contains("precision", error.Message);
    }
}
