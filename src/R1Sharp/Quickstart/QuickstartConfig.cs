using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Model;
using R1Sharp.Training;

namespace R1Sharp.Quickstart;

/// <summary>
/// Every knob of `r1 quickstart`, with the defaults that finish on a 2-core laptop CPU in well under 15 minutes
/// (see docs/results.md). The design follows shared/reference/grpo-cpu-sketch.md: the base model is pretrained on
/// a mix of direct answers (short, unreliable for a tiny model) and worked column additions inside &lt;think&gt;
/// (longer, reliable except for injected slips); RL then has to discover that thinking pays.
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
    /// <summary>Share of documents that answer directly, with an empty &lt;think&gt;.</summary>
    [JsonPropertyName("direct_share")] public double DirectShare { get; init; } = 0.6;
    /// <summary>Share of the longer (harder-length) pretraining problems that answer directly; null means <see cref="DirectShare"/>.</summary>
    [JsonPropertyName("harder_direct_share")] public double? HarderDirectShare { get; init; }
    /// <summary>Share of worked solutions with one column slip, carried consistently into the answer.</summary>
    [JsonPropertyName("slip_share")] public double SlipShare { get; init; } = 0.3;
    [JsonPropertyName("tokenizer_vocab_size")] public int TokenizerVocabSize { get; init; } = 320;

    // Model (llama family, ~0.9M parameters).
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 128;
    [JsonPropertyName("num_hidden_layers")] public int Layers { get; init; } = 4;
    [JsonPropertyName("num_attention_heads")] public int Heads { get; init; } = 4;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 384;

    // Pretraining.
    [JsonPropertyName("pretrain_steps")] public int PretrainSteps { get; init; } = 1200;
    [JsonPropertyName("pretrain_batch_size")] public int PretrainBatchSize { get; init; } = 32;
    [JsonPropertyName("pretrain_seq_length")] public int PretrainSeqLength { get; init; } = 128;
    [JsonPropertyName("pretrain_learning_rate")] public double PretrainLearningRate { get; init; } = 2e-3;

    // GRPO.
    [JsonPropertyName("rl_steps")] public int RlSteps { get; init; } = 200;
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
