using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Inference;
using R1Sharp.Quantization;
using R1Sharp.Model;
using R1Sharp.Tests.Model;
using R1Sharp.Tests.Server;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Inference;

/// <summary>Generation with bf16 weights: the copy, the kernels against the scalar reference, auto's rule, and a trained model's tokens.</summary>
public unsafe class Bf16Tests
{
    [Theory]
    [InlineData(3, 37)]   // one block and a plain tail
    [InlineData(2, 64)]
    [InlineData(1, 20)]   // no whole block
    public void The_copy_rounds_to_nearest_even_and_keeps_every_column(int rows, int columns)
    {
        var values = new float[rows * columns];
        var random = new Random(1);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 8 - 4);
        values[0] = float.NaN;
        var copy = new Bf16Matrix(rows, columns);
        fixed (float* source = values) copy.Fill(source, 0, rows);

        Assert.Equal(Enumerable.Range(0, columns), Enumerable.Range(0, columns).Select(c => Bf16Matrix.Position(c, columns)).Order());
        for (int r = 0; r < rows; r++)
        {
            var rounded = new ushort[columns];
            GgmlQuants.ToBFloat16(values.AsSpan(r * columns, columns), rounded);
            var expected = new float[columns];
            GgmlQuants.FromBFloat16(rounded, expected);
            Assert.Equal(expected, copy.Widen(r));
        }
        Assert.True(float.IsNaN(copy.Widen(0)[0]));
    }

    public static IEnumerable<object[]> Shapes() => SimdWidths.Times(
    [
        [1, 37, 50, 1],     // batch-1 decode, N and K off the tile and block sizes
        [1, 64, 96, 2],
        [2, 9, 64, 1],
        [5, 130, 1100, 2],  // K blocked (M > 3), rows in a tile and a remainder
        [33, 70, 530, 3],   // prefill tiles, three workers
        [17, 12, 31, 1],    // no whole block
    ]);

    [SkippableTheory]
    [MemberData(nameof(Shapes))]
    public void Bf16_products_equal_the_scalar_reference(int m, int n, int k, int threads, SimdWidth width)
    {
        SimdWidths.SkipUnlessSupported(width);
        var g = new Generator(5);
        var x = randn([m, k], generator: g);
        var w1 = randn([n, k], generator: g);
        var w2 = randn([n / 2 + 1, k], generator: g);
        var b2 = randn([n / 2 + 1], generator: g);
        var residual = randn([m, n + n / 2 + 1], generator: g);
        var copies = new[] { w1, w2 }.Select(w =>
        {
            var copy = new Bf16Matrix((int)w.shape[0], k);
            copy.Fill(TensorMemory.Floats(w), 0, copy.Rows);
            return copy;
        }).ToArray();

        var y = residual.clone();
        new LinearJob().Run(CpuWorkers.Shared(threads), width, TensorMemory.Floats(x), m, k, k, TensorMemory.Floats(y), (int)y.shape[1], addToOutput: true,
            [new LinearSegment(null, null, null, n, 0, copies[0]), new LinearSegment(null, null, TensorMemory.Floats(b2), n / 2 + 1, n, copies[1])]);

        // The reference: residual + the scalar dot of each row of X with each bf16 row (+ bias), column by column.
        var xs = x.data<float>().ToArray();
        var ys = y.data<float>().ToArray();
        var rs = residual.data<float>().ToArray();
        var bias = b2.data<float>().ToArray();
        int width2 = n + n / 2 + 1;
        fixed (float* xp = xs)
            for (int row = 0; row < m; row++)
                for (int col = 0; col < width2; col++)
                {
                    var (copy, r) = col < n ? (copies[0], col) : (copies[1], col - n);
                    float expected = rs[row * width2 + col] + Bf16Dots.Dot(xp + row * k, copy.Data + (long)r * k, k) + (col < n ? 0 : bias[r]);
                    Assert.True(Math.Abs(expected - ys[row * width2 + col]) <= 1e-4 * (1 + Math.Sqrt(k)),
                        $"y[{row}, {col}] = {ys[row * width2 + col]}, the reference {expected}");
                }
    }

    [Theory]
    [InlineData(200, 70, false)] // six whole 32-column blocks and a plain tail of 8
    [InlineData(96, 33, true)]
    public void Bf16_gemm_products_match_the_rounded_reference_and_do_not_depend_on_batch_mates(int k, int rowsPerSequence, bool accumulate)
    {
        var g = new Generator(11);
        int n1 = 40, n2 = 19, width = n1 + n2, sequences = 3, rows = sequences * rowsPerSequence;
        var x = randn([rows, k], generator: g);
        var w1 = randn([n1, k], generator: g);
        var w2 = randn([n2 + 5, k], generator: g); // a copy with more rows than the segment reads
        var bias = randn([n2], generator: g);
        var residual = randn([rows, width], generator: g);
        var copies = new[] { w1, w2 }.Select(w =>
        {
            var copy = new Bf16Matrix((int)w.shape[0], k);
            copy.Fill(TensorMemory.Floats(w), 0, copy.Rows);
            return copy;
        }).ToArray();
        LinearSegment[] segments = [new(null, null, null, n1, 0, copies[0]), new(null, null, TensorMemory.Floats(bias), n2, n1, copies[1])];
        float[] Run(params int[] chosen)
        {
            var y = residual.clone();
            new Bf16Gemm().Run(CpuWorkers.Shared(2), TensorMemory.Floats(x), k, k, TensorMemory.Floats(y), width, accumulate, segments, chosen, rowsPerSequence);
            return y.data<float>().ToArray();
        }
        var both = Run(0, 2);

        // The reference: each row of X rounded to bf16 as the copies are, dotted with the bf16 rows in double; the GEMM
        // rounds its float32 sums to bf16 (8 significant bits), so a result is within 2⁻⁸ of the exact one.
        var rounded = new ushort[k];
        var xs = x.data<float>().ToArray();
        var rs = residual.data<float>().ToArray();
        var bs = bias.data<float>().ToArray();
        for (int row = 0; row < rows; row++)
        {
            bool chosen = row / rowsPerSequence != 1;
            GgmlQuants.ToBFloat16(xs.AsSpan(row * k, k), rounded);
            for (int col = 0; col < width; col++)
            {
                var (copy, r) = col < n1 ? (copies[0], col) : (copies[1], col - n1);
                var wRow = copy.Widen(r);
                double dot = 0, magnitude = 0;
                for (int j = 0; j < k; j++)
                {
                    dot += Bf16Dots.ToSingle(rounded[j]) * (double)wRow[j];
                    magnitude += Math.Abs(Bf16Dots.ToSingle(rounded[j]) * (double)wRow[j]);
                }
                double expected = (accumulate ? rs[row * width + col] : 0) + dot + (col < n1 ? 0 : bs[r]);
                float actual = both[row * width + col];
                if (!chosen) Assert.Equal(rs[row * width + col], actual); // a row left to the kernels is not touched
                else Assert.True(Math.Abs(expected - actual) <= Math.Abs(dot) / 256 + 1e-5 * magnitude + 1e-5,
                    $"y[{row}, {col}] = {actual}, the reference {expected}");
            }
        }

        // Sequence 2 alone, or first: the same bits as beside sequence 0 (one GEMM shape, rows independent of their block).
        foreach (var alone in new[] { Run(2), Run(2, 1) })
            for (int i = 2 * rowsPerSequence * width; i < rows * width; i++) Assert.Equal(both[i], alone[i]);
    }

    [Fact]
    public void Auto_takes_fp32_without_native_bf16_and_asks_no_timer()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var choice = GenerationPrecision.Decide(Precision.Auto, model, (_, _) => throw new InvalidOperationException("not measured"), nativeBf16: false);
        Assert.Equal(Precision.Fp32, choice.Precision);
        Assert.Contains("native bf16", choice.Reason);
    }

    [SkippableTheory]
    [InlineData(1.0, 0.9, Precision.Fp32)]   // bf16 a little faster: not clearly, so fp32
    [InlineData(1.0, 0.5, Precision.Bf16)]   // twice as fast
    public void Auto_takes_bf16_only_where_it_measured_clearly_faster(double fp32Seconds, double bf16Seconds, Precision expected)
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        using var model = TinyModels.Create(ModelFamily.Llama);
        using var dir = new TempDir();
        var memo = new PrecisionMemo(Path.Combine(dir.Path, "precision.json"));
        int asked = 0;
        double Timer(CausalLanguageModel _, Precision p)
        {
            asked++;
            return p == Precision.Bf16 ? bf16Seconds : fp32Seconds;
        }
        var choice = GenerationPrecision.Decide(Precision.Auto, model, Timer, memo, nativeBf16: true);
        Assert.Equal(expected, choice.Precision);
        Assert.Equal(2, asked);
        // Remembered per machine: the same command decides the same without measuring again.
        Assert.Equal(expected, GenerationPrecision.Decide(Precision.Auto, model, Timer, memo, nativeBf16: true).Precision);
        Assert.Equal(2, asked);
        Assert.Equal(Precision.Fp32, GenerationPrecision.Decide(Precision.Fp32, model, Timer, memo, nativeBf16: true).Precision);
    }

    /// <summary>
    /// The tolerance bf16 weights keep a trained model's log-probs within: rounding each weight to 8 significant bits
    /// moves a logit by far less than 0.05 nats on the tiny trained model, and moves no greedy token.
    /// </summary>
    const double LogProbTolerance = 0.05;

    [SkippableFact]
    public void Bf16_weights_give_a_trained_model_the_same_greedy_tokens_and_close_log_probs()
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        using var bundle = ModelBundle.Load(ServerTestModels.ReasoningDir);
        var runner = ForwardRunner.For(bundle.Model);
        var prompt = bundle.EncodeChat([new ChatMessage("user", ServerTestModels.Questions[0])]);
        var engine = new GenerationEngine(bundle.Model, bundle.Tokenizer);
        GeneratedSample Greedy(Precision precision)
        {
            runner.WeightPrecision = precision;
            return engine.Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 96 })])[0][0];
        }
        try
        {
            var fp32 = Greedy(Precision.Fp32);
            var bf16 = Greedy(Precision.Bf16);
            Assert.True(fp32.TokenIds.Length >= 32, $"the trained model wrote {fp32.TokenIds.Length} tokens; the test needs at least 32");
            Assert.Equal(fp32.TokenIds, bf16.TokenIds);
            double worst = fp32.LogProbs.Zip(bf16.LogProbs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= LogProbTolerance, $"bf16 log-probs differ from fp32's by up to {worst}");
            Assert.True(worst > 0, "bf16 weights changed nothing: the copies were not read");
            // Back to fp32, the parameters are read again: the fp32 log-probs come back exactly.
            Assert.Equal(fp32.LogProbs, Greedy(Precision.Fp32).LogProbs);
        }
        finally
        {
            runner.WeightPrecision = Precision.Fp32;
        }
    }

    [SkippableFact]
    public void Long_prompts_on_the_bf16_gemm_keep_a_trained_model_on_fp32s_greedy_tokens_whatever_shares_their_batch()
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        using var bundle = ModelBundle.Load(ServerTestModels.ReasoningDir);
        var runner = ForwardRunner.For(bundle.Model);
        var engine = new GenerationEngine(bundle.Model, bundle.Tokenizer);
        // Prompts of at least 64 tokens, so they take the GEMM: a question and the start of the trained completion.
        var completion = bundle.Tokenizer.Encode(ServerTestModels.Reasoning + ChatTokens.ThinkEnd + ServerTestModels.Answer + ChatTokens.Eos);
        List<int> LongPrompt(string question, int length)
        {
            var prompt = bundle.EncodeChat([new ChatMessage("user", question)]).ToList();
            prompt.AddRange(completion.Take(length - prompt.Count));
            return prompt;
        }
        var prompt = LongPrompt(ServerTestModels.Questions[3], Bf16Gemm.BlockRows);
        var mate = LongPrompt(ServerTestModels.Questions[0], Bf16Gemm.BlockRows + 9);
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 96 };
        GeneratedSample[] Greedy(Precision precision, bool gemm, params List<int>[] prompts)
        {
            runner.WeightPrecision = precision;
            runner.Bf16PromptGemm = gemm;
            return engine.Generate(prompts.Select(p => new GenerationRequest(p, options)).ToList()).Select(samples => samples[0]).ToArray();
        }
        try
        {
            var fp32 = Greedy(Precision.Fp32, false, prompt)[0];
            var gemm = Greedy(Precision.Bf16, true, prompt)[0];
            var kernels = Greedy(Precision.Bf16, false, prompt)[0];
            Assert.True(fp32.TokenIds.Length >= 24, $"the trained model wrote {fp32.TokenIds.Length} tokens after the long prompt; the test needs 24");
            Assert.Equal(fp32.TokenIds, gemm.TokenIds);
            double worst = fp32.LogProbs.Zip(gemm.LogProbs, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= LogProbTolerance, $"log-probs after a prompt on the bf16 GEMM differ from fp32's by up to {worst}");
            Assert.NotEqual(kernels.LogProbs, gemm.LogProbs); // the prompt did take the GEMM (it rounds X and Y to bf16)
            // Beside a longer prompt (more GEMM rows, its own padding) the prefill gives the same bits: the first token's
            // log-prob, which only the prefill's logits decide, is equal; later ones come from batched decode steps, whose
            // rows may differ in the last bit (docs/inference.md).
            var batched = Greedy(Precision.Bf16, true, mate, prompt);
            Assert.Equal(gemm.TokenIds, batched[1].TokenIds);
            Assert.Equal(gemm.LogProbs[0], batched[1].LogProbs[0]);
            Assert.True(gemm.LogProbs.Zip(batched[1].LogProbs, (a, b) => Math.Abs(a - b)).Max() < 1e-4);
            // A prompt one token short stays on the kernels, alone and beside the longer one (padded to its length).
            var shorter = LongPrompt(ServerTestModels.Questions[3], Bf16Gemm.BlockRows - 1);
            float onKernels = Greedy(Precision.Bf16, false, shorter)[0].LogProbs[0];
            Assert.Equal(onKernels, Greedy(Precision.Bf16, true, shorter)[0].LogProbs[0]);
            Assert.Equal(onKernels, Greedy(Precision.Bf16, true, mate, shorter)[1].LogProbs[0]);
        }
        finally
        {
            runner.WeightPrecision = Precision.Fp32;
            runner.Bf16PromptGemm = Bf16Gemm.Available;
        }
    }

    [SkippableFact]
    public void Generate_takes_precision_and_refuses_bf16_for_packed_weights()
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        string[] Generate(params string[] more) =>
            ["generate", "--model", ServerTestModels.ReasoningDir, "--prompt", "hello", "--max-tokens", "4", "--temperature", "0", .. more];
        var output = new StringWriter();
        var errors = new StringWriter();
        Assert.Equal(0, R1Sharp.Cli.CliApp.Run(Generate("--precision", "bf16"), output, errors));
        Assert.Contains("bf16 weights (asked for)", errors.ToString());
        errors = new StringWriter();
        Assert.Equal(2, R1Sharp.Cli.CliApp.Run(Generate("--precision", "bf16", "--quantize", "q8_0"), output, errors));
        Assert.Contains("--precision bf16", errors.ToString());
        Assert.Contains("packed", errors.ToString());
        Assert.Equal(2, R1Sharp.Cli.CliApp.Run(Generate("--precision", "bf17"), output, new StringWriter()));
    }

    [SkippableFact]
    public void Weights_changed_in_place_are_copied_again()
    {
        Skip.If(SimdKernels.Active == SimdWidth.None, "the CPU kernels do not run here");
        using var model = TinyModels.Create(ModelFamily.Llama);
        var runner = ForwardRunner.For(model);
        runner.WeightPrecision = Precision.Bf16;
        Tensor Logits()
        {
            using var _ = inference_mode();
            using var cache = KvCache.Create(model.Config, 1, 4, CPU);
            return runner.Forward(tensor(new long[] { 1, 2, 3 }).view(1, 3), arange(3).view(1, 3), null, cache);
        }
        var before = Logits();
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.EndsWith("down_proj.weight")) p.mul_(0.5f); // read only through their bf16 copies
        Assert.True(before.allclose(Logits())); // the copies are reused between forwards until the runner is told
        runner.WeightsChanged();
        Assert.False(before.allclose(Logits()));
    }
}
