using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Tasks;
using R1Sharp.Tokenizers;

namespace R1Sharp.Evaluation;

/// <summary>How `r1 eval` samples. Defaults are DeepSeek-R1's evaluation settings (k samples at T 0.6, top-p 0.95).</summary>
public sealed record ModelEvalOptions
{
    /// <summary>Quantize a model directory's weights to this GGUF type at load (`--quantize`); null runs them as stored.</summary>
    public Gguf.GgufDType? Quantize { get; init; }
    /// <summary>The weights generation reads (`--precision`): fp32 (default), bf16 copies, or auto (<see cref="Inference.GenerationPrecision"/>).</summary>
    public Training.Precision Precision { get; init; } = Training.Precision.Fp32;
    /// <summary>Prompts taken from the split (a dataset file may have fewer). Default 200.</summary>
    public int Prompts { get; init; } = 200;
    /// <summary>k, samples per prompt. Default 4.</summary>
    public int Samples { get; init; } = 4;
    public double Temperature { get; init; } = 0.6;
    public double TopP { get; init; } = 0.95;
    public int MaxTokens { get; init; } = 256;
    public int Seed { get; init; }
    /// <summary>Also decode each prompt greedily, for greedy accuracy. Default true.</summary>
    public bool Greedy { get; init; } = true;
    /// <summary>Prompts generated together in one batch. Default 64.</summary>
    public int BatchPrompts { get; init; } = 64;
}

/// <summary>Generates completions for a task's prompts with the batched engine and scores them by R1's protocol.</summary>
public static class ModelEvaluator
{
    /// <summary>`r1 eval`: the model in <paramref name="modelDir"/> (with the LoRA adapter in <paramref name="adapterDir"/>, if
    /// given) on a task's split; the summary goes to &lt;outDir&gt;/eval.json and every graded completion to &lt;outDir&gt;/samples.jsonl.</summary>
    public static EvalResult Run(string modelDir, IVerifiableTask task, TaskSplit split, ModelEvalOptions options, string outDir,
        Action<int, int>? progress = null, string? adapterDir = null)
    {
        using var bundle = ModelBundle.Load(modelDir, quantize: options.Quantize, adapterDir: adapterDir, precision: options.Precision);
        var result = Run(bundle, task, split, options, progress);
        result.Save(outDir);
        return result;
    }

    /// <summary>The prompts an evaluation asks: the first <see cref="ModelEvalOptions.Prompts"/> of the split (local and endpoint alike).</summary>
    public static List<TaskExample> Examples(IVerifiableTask task, TaskSplit split, ModelEvalOptions options)
    {
        var examples = task.Examples(split, options.Seed).Take(options.Prompts).ToList();
        return examples.Count > 0 ? examples : throw new R1Error($"task '{task.Name}' has no {split} examples");
    }

    public static EvalResult Run(ModelBundle bundle, IVerifiableTask task, TaskSplit split, ModelEvalOptions options,
        Action<int, int>? progress = null)
    {
        var examples = Examples(task, split, options);
        var engine = new GenerationEngine(bundle.Model, bundle.Tokenizer);
        var sampled = new SamplingOptions { Temperature = options.Temperature, TopP = options.TopP, MaxNewTokens = options.MaxTokens };
        var greedy = sampled with { Temperature = 0, TopP = 1 };
        var results = new List<PromptSamples>();
        for (int start = 0; start < examples.Count; start += options.BatchPrompts)
        {
            var batch = examples.Skip(start).Take(options.BatchPrompts).ToList();
            var prompts = batch.Select(e => bundle.EncodeChat(e.Prompt)).ToList();
            var samples = engine.Generate(prompts.Select((p, i) => new GenerationRequest(p,
                sampled with { Seed = Seeds.ForPrompt(options.Seed, start + i) }, options.Samples)).ToList());
            var greedyResults = options.Greedy ? engine.Generate(prompts.Select(p => new GenerationRequest(p, greedy)).ToList()) : null;
            for (int i = 0; i < batch.Count; i++)
                results.Add(new PromptSamples(batch[i].Id, batch[i].Answer, samples[i].Select(s => ToEvalSample(bundle, s)).ToList(),
                    greedyResults is null ? null : ToEvalSample(bundle, greedyResults[i][0]), bundle.Tokenizer.Decode(prompts[i])));
            progress?.Invoke(Math.Min(start + batch.Count, examples.Count), examples.Count);
        }
        var settings = new EvalSettings(bundle.Directory, options.Temperature, options.TopP, options.MaxTokens, options.Seed);
        return Evaluator.Evaluate(task, results, settings, bundle.Template.OpensThink);
    }

    /// <summary>The completion's text without the end-of-sequence token; its token count includes it.</summary>
    public static EvalSample ToEvalSample(ModelBundle bundle, GeneratedSample sample) => new(
        CompletionText(bundle.Tokenizer, sample), sample.TokenIds.Length, sample.FinishReason == FinishReason.Length);

    public static string CompletionText(ITextTokenizer tokenizer, GeneratedSample sample)
    {
        var ids = sample.TokenIds.AsEnumerable();
        if (sample.FinishReason == FinishReason.Stop && tokenizer.EosId is int eos && sample.TokenIds.Length > 0 && sample.TokenIds[^1] == eos)
            ids = ids.SkipLast(1);
        return tokenizer.Decode(ids);
    }
}
