using System.Diagnostics;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Runs;
using R1Sharp.Tasks;

namespace R1Sharp.Distillation;

/// <summary>Which sampled completions become traces.</summary>
public enum TraceKeep
{
    /// <summary>Only accepted ones: verified correct, well-formed, finished (rejection sampling proper).</summary>
    Correct,
    /// <summary>Every distinct completion, each marked with its verdict (for inspection, or to train on everything).</summary>
    All,
}

/// <summary>How `r1 sample` draws from the teacher. Sampling defaults are R1's (temperature 0.6, top-p 0.95).</summary>
public sealed record RejectionSamplingOptions
{
    /// <summary>k, completions sampled per prompt. Default 4.</summary>
    public int Samples { get; init; } = 4;
    /// <summary>Prompts taken from the split (a dataset file may have fewer). Default 200.</summary>
    public int Prompts { get; init; } = 200;
    public double Temperature { get; init; } = 0.6;
    public double TopP { get; init; } = 0.95;
    public int MaxTokens { get; init; } = 256;
    public TraceKeep Keep { get; init; } = TraceKeep.Correct;
    /// <summary>Keep only the shortest kept trace of each prompt (R1's preference for concise reasoning).</summary>
    public bool Shortest { get; init; }
    public int Seed { get; init; }
    /// <summary>Prompts generated together in one batch. Default 64.</summary>
    public int BatchPrompts { get; init; } = 64;
    /// <summary>The rates of the summary's cost card (null: the enclosing run's, else the defaults).</summary>
    public CostRates? Cost { get; init; }

    public RejectionSamplingOptions Validate()
    {
        if (Samples < 1) throw new R1Error($"samples per prompt must be at least 1, got {Samples}");
        if (Prompts < 1) throw new R1Error($"prompts must be at least 1, got {Prompts}");
        if (MaxTokens < 1) throw new R1Error($"max tokens must be at least 1, got {MaxTokens}");
        if (BatchPrompts < 1) throw new R1Error($"batch prompts must be at least 1, got {BatchPrompts}");
        return this;
    }
}

/// <summary>The traces kept and what was seen on the way.</summary>
public sealed record RejectionSamplingResult(IReadOnlyList<DistillationTrace> Traces, RejectionSamplingSummary Summary);

/// <summary>
/// Rejection sampling (DeepSeek-R1, §2.3.3): k completions per prompt from the batched engine, each judged by the
/// task's checker and the format reward; accepted ones are deduplicated and kept as SFT traces.
/// </summary>
public static class RejectionSampler
{
    /// <summary>`r1 sample`: the model in <paramref name="modelDir"/> on a task's split; the traces go to
    /// <paramref name="tracesPath"/> and the summary beside it (<see cref="RejectionSamplingSummary.PathFor"/>).</summary>
    public static RejectionSamplingResult Run(string modelDir, IVerifiableTask task, TaskSplit split, RejectionSamplingOptions options,
        string tracesPath, Action<int, int>? progress = null)
    {
        options.Validate();
        using var bundle = ModelBundle.Load(modelDir);
        var result = Run(bundle, task, split, options, progress);
        DistillationTrace.WriteJsonl(tracesPath, result.Traces);
        result.Summary.Save(RejectionSamplingSummary.PathFor(tracesPath));
        return result;
    }

    public static RejectionSamplingResult Run(ModelBundle bundle, IVerifiableTask task, TaskSplit split, RejectionSamplingOptions options,
        Action<int, int>? progress = null)
    {
        options.Validate();
        using var meter = ComputeMeter.Start(options.Cost);
        var clock = Stopwatch.StartNew();
        var examples = task.Examples(split, options.Seed).Take(options.Prompts).ToList();
        // Generation is evaluation's, sample for sample (same batching and seeds); grading is redone here with the format check.
        var generated = ModelEvaluator.Run(bundle, task, split, new ModelEvalOptions
        {
            Prompts = options.Prompts, Samples = options.Samples, Temperature = options.Temperature, TopP = options.TopP,
            MaxTokens = options.MaxTokens, Seed = options.Seed, Greedy = false, BatchPrompts = options.BatchPrompts,
        }, progress);
        bool opened = bundle.Template.OpensThink;
        var traces = new List<DistillationTrace>();
        var perPrompt = new List<PromptAcceptance>();
        // Evaluation lists each prompt's k samples together, prompts in the split's order.
        foreach (var (example, group) in examples.Zip(generated.Samples.Chunk(options.Samples)))
        {
            var candidates = group.Select(s => new DistillationTrace(example.Id, example.Prompt, example.Answer, s.Completion, opened,
                s.Tokens, TraceVerdict.Judge(task, example, s.Completion, finished: !s.HitLimit, opened))).ToList();
            var kept = Select(candidates, options.Keep, options.Shortest);
            traces.AddRange(kept);
            perPrompt.Add(new PromptAcceptance(example.Id, candidates.Count, candidates.Count(c => c.Verdict.Correct),
                candidates.Count(c => c.Verdict.WellFormed), candidates.Count(c => c.Verdict.Finished),
                candidates.Count(c => c.Verdict.Accepted), kept.Count));
        }
        var summary = RejectionSamplingSummary.From(perPrompt, traces, options, task.Name, split, bundle.Directory, clock.Elapsed.TotalSeconds)
            with { Cost = meter.Card() };
        return new RejectionSamplingResult(traces, summary);
    }

    /// <summary>
    /// One prompt's traces to keep: identical completions once, only accepted ones unless <paramref name="keep"/> is All,
    /// and with <paramref name="shortest"/> only the one with the fewest tokens (the first of equals).
    /// </summary>
    public static List<DistillationTrace> Select(IReadOnlyList<DistillationTrace> candidates, TraceKeep keep, bool shortest)
    {
        var kept = candidates.Where(c => keep == TraceKeep.All || c.Verdict.Accepted)
            .DistinctBy(c => c.Completion, StringComparer.Ordinal).ToList();
        return shortest && kept.Count > 1 ? [kept.MinBy(c => c.Tokens)!] : kept;
    }
}
