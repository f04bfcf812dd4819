using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Model;
using R1Sharp.Training;

namespace R1Sharp.Quickstart;

/// <summary>
/// Every knob of `r1 quickstart`, with the defaults that finish on a 2-core laptop CPU in well under 15 minutes
/// (see docs/results.md). The design follows shared/reference/grpo-cpu-sketch.md: the base model is pretrained on
/// a mix of direct answers (short, unreliable) and worked column additions inside &lt;think&gt; (longer, reliable
/// except for injected slips); RL then has to discover that thinking pays.
/// <para>
/// The defaults are chosen so that the size of that effect does not depend on the seed or on the CPU (whose
/// floating-point path changes the trained weights). A tiny model learns to add in one go suddenly, at a step that
/// varies by seed and host; when direct answers were right in the data, the base's strength depended on where a run
/// stood in that transition (held-out pass@1 30–86% at 1200 steps). Now a direct answer in the data forgets most
/// carries (<see cref="DirectForgetCarryShare"/>), so however far a run has learned, the direct mode is capped well
/// below the worked mode; most short problems are answered directly (<see cref="DirectShare"/>), so the base mostly
/// answers directly and often wrongly; and longer problems are mostly worked (<see cref="HarderDirectShare"/>) and
/// pretraining is long enough (<see cref="PretrainSteps"/>) for every seed to learn the column procedure, which is
/// what RL needs to find.
/// </para>
/// </summary>
public sealed record QuickstartConfig
{
    [JsonPropertyName("seed")] public int Seed { get; init; } = 1;

    // Task: addition; held-out problems never appear in training; "harder" has one digit more.
    [JsonPropertyName("min_digits")] public int MinDigits { get; init; } = 2;
    [JsonPropertyName("max_digits")] public int MaxDigits { get; init; } = 3;
    /// <summary>Share of pretraining problems with the harder split's digit count (from the training side).</summary>
    [JsonPropertyName("harder_share_in_pretraining")] public double HarderShareInPretraining { get; init; } = 0.25;

    // Pretraining corpus.
    [JsonPropertyName("pretrain_documents")] public int PretrainDocuments { get; init; } = 60_000;
    /// <summary>
    /// Share of documents that answer directly, with an empty &lt;think&gt;. 0.7: at the evaluation temperature 0.6
    /// the base then answers about four problems in five directly.
    /// </summary>
    [JsonPropertyName("direct_share")] public double DirectShare { get; init; } = 0.7;
    /// <summary>
    /// Share of the longer (harder-length) pretraining problems that answer directly; null means <see cref="DirectShare"/>.
    /// 0.3: long sums are mostly written out, as people do, so the worked procedure is practised at the harder
    /// split's length too (with 0.6 the base's worked columns misread the third and fourth digits of 4-digit operands).
    /// </summary>
    [JsonPropertyName("harder_direct_share")] public double? HarderDirectShare { get; init; } = 0.3;
    /// <summary>
    /// Chance that a direct answer forgets each carry (the column that should take it does not), the usual slip of
    /// adding in one's head. 0.8: at temperature 0.6 the model forgets about nine carries in ten, so a direct answer is
    /// right on problems without a carry (46% of the held-out ones) and rarely otherwise — about 50% at best, however
    /// well the model has learned to add, where the worked mode reaches 95%+. 0 makes direct answers always right.
    /// </summary>
    [JsonPropertyName("direct_forget_carry_share")] public double DirectForgetCarryShare { get; init; } = 0.8;
    /// <summary>Share of worked solutions with one column slip, carried consistently into the answer.</summary>
    [JsonPropertyName("slip_share")] public double SlipShare { get; init; } = 0.3;
    [JsonPropertyName("tokenizer_vocab_size")] public int TokenizerVocabSize { get; init; } = 320;

    // Model (llama family, ~0.9M parameters).
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 128;
    [JsonPropertyName("num_hidden_layers")] public int Layers { get; init; } = 4;
    [JsonPropertyName("num_attention_heads")] public int Heads { get; init; } = 4;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 384;

    // Pretraining.
    /// <summary>
    /// 1600: at 1200 steps some seeds had not yet learned the column procedure (their RL model stopped at 80%); with
    /// direct answers capped by the data, training longer no longer makes the base too strong for RL to matter, and
    /// 1600 keeps the run with <c>--control</c> inside 15 minutes on a slow 2-core machine (2000 took 17).
    /// </summary>
    [JsonPropertyName("pretrain_steps")] public int PretrainSteps { get; init; } = 1600;
    [JsonPropertyName("pretrain_batch_size")] public int PretrainBatchSize { get; init; } = 32;
    [JsonPropertyName("pretrain_seq_length")] public int PretrainSeqLength { get; init; } = 128;
    [JsonPropertyName("pretrain_learning_rate")] public double PretrainLearningRate { get; init; } = 2e-3;

    // GRPO.
    /// <summary>100: RL finds the worked columns within about 30 steps (training accuracy 0.91–0.95 at step 30 on five seeds).</summary>
    [JsonPropertyName("rl_steps")] public int RlSteps { get; init; } = 100;
    [JsonPropertyName("rl_prompts_per_step")] public int RlPromptsPerStep { get; init; } = 16;
    [JsonPropertyName("rl_num_generations")] public int RlNumGenerations { get; init; } = 8;
    [JsonPropertyName("rl_learning_rate")] public double RlLearningRate { get; init; } = 1e-4;
    [JsonPropertyName("rl_temperature")] public double RlTemperature { get; init; } = 1.0;
    /// <summary>KL weight to the frozen base (GRPO's beta, k3 estimator); 0 skips the reference model.</summary>
    [JsonPropertyName("rl_beta")] public double RlBeta { get; init; }
    [JsonPropertyName("max_completion_length")] public int MaxCompletionLength { get; init; } = 64;

    // Evaluation by R1's protocol.
    [JsonPropertyName("eval_prompts")] public int EvalPrompts { get; init; } = 200;
    [JsonPropertyName("eval_samples")] public int EvalSamples { get; init; } = 4;
    [JsonPropertyName("eval_temperature")] public double EvalTemperature { get; init; } = 0.6;
    [JsonPropertyName("eval_top_p")] public double EvalTopP { get; init; } = 0.95;

    /// <summary>Precision of the training stages' matrix products: fp32 (default), bf16, or auto (measured at each
    /// stage's start, bf16 only where clearly faster; see docs/training.md). fp32 by default because the quickstart's
    /// products are too small for bf16 to pay (auto measured 1.2–1.3×, at its margin), and a timing near the margin would
    /// let the machine's load choose — and change — the headline numbers of a run that must be the same every time.</summary>
    [JsonPropertyName("precision")] public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Optional wall-clock cap per training stage; 0 (default) lets the step counts decide, so the result
    /// does not depend on how busy the machine is.</summary>
    [JsonPropertyName("max_stage_seconds")] public double MaxStageSeconds { get; init; }

    public ModelConfig ModelConfig(int vocabSize, int? bos, int? eos, int? pad) => new()
    {
        Family = ModelFamily.Llama, VocabSize = vocabSize, HiddenSize = HiddenSize, NumHiddenLayers = Layers,
        NumAttentionHeads = Heads, NumKeyValueHeads = Heads, IntermediateSize = IntermediateSize,
        MaxPositionEmbeddings = 256, RopeTheta = 10000, TieWordEmbeddings = true,
        BosTokenId = bos, EosTokenIds = eos is int e ? [e] : [], PadTokenId = pad,
    };

    /// <summary>Settings from a JSON file with report.json's config keys (a quickstart run's config.json is one),
    /// laid over <paramref name="baseline"/> (default: the defaults); an unknown key is an error.</summary>
    public static QuickstartConfig Load(string path, QuickstartConfig? baseline = null) => ConfigJson.Load(path, baseline ?? new QuickstartConfig());

    /// <summary>
    /// The settings a model was trained with when it lives in a quickstart run folder (&lt;run&gt;/models/rl), else the
    /// defaults: the task's digit counts follow the run.
    /// </summary>
    public static QuickstartConfig ForModel(string modelDir)
    {
        string run = Path.GetFullPath(Path.Combine(modelDir, "..", ".."));
        string config = Path.Combine(run, "config.json");
        return Runs.RunFolder.ReadRunInfo(run) is { Kind: "quickstart" } && File.Exists(config) ? Load(config) : new QuickstartConfig();
    }

    /// <summary>A configuration small enough for a test to run in seconds.</summary>
    public static QuickstartConfig Tiny => new()
    {
        PretrainDocuments = 400, TokenizerVocabSize = 280, HiddenSize = 32, Layers = 1, Heads = 2, IntermediateSize = 64,
        PretrainSteps = 6, PretrainBatchSize = 4, PretrainSeqLength = 64, RlSteps = 2, RlPromptsPerStep = 2,
        RlNumGenerations = 4, MaxCompletionLength = 16, EvalPrompts = 4, EvalSamples = 2,
    };
}
