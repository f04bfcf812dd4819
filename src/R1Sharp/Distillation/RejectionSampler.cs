using System.Diagnostics;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Remote;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Training;

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
    /// <summary>The weights generation reads (`--precision`): fp32 (default), bf16 copies, or auto (<see cref="Inference.GenerationPrecision"/>).</summary>
    public Training.Precision Precision { get; init; } = Training.Precision.Fp32;
    public TraceKeep Keep { get; init; } = TraceKeep.Correct;
    /// <summary>Keep only the shortest kept trace of each prompt (R1's preference for concise reasoning).</summary>
    public bool Shortest { get; init; }
    public int Seed { get; init; }
    /// <summary>Prompts generated together in one batch. Default 64.</summary>
    public int BatchPrompts { get; init; } = 64;
    /// <summary>The rates of the summary's cost card (null: the enclosing run's, else the defaults).</summary>
    public CostRates? Cost { get; init; }

    /// <summary>How the samples are drawn: as evaluation draws them (same batching and seeds), without the greedy one.</summary>
    public ModelEvalOptions Generation => new()
    {
        Prompts = Prompts, Samples = Samples, Temperature = Temperature, TopP = TopP, MaxTokens = MaxTokens, Seed = Seed, Greedy = false,
        BatchPrompts = BatchPrompts,
    };

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
    /// <summary>`r1 sample`: the model in <paramref name="modelDir"/> (with the LoRA adapter in <paramref name="adapterDir"/>, if
    /// given) on a task's split; the traces go to <paramref name="tracesPath"/> and the summary beside it (<see cref="RejectionSamplingSummary.PathFor"/>).</summary>
    public static RejectionSamplingResult Run(string modelDir, IVerifiableTask task, TaskSplit split, RejectionSamplingOptions options,
        string tracesPath, Action<int, int>? progress = null, string? adapterDir = null)
    {
        options.Validate();
        using var bundle = ModelBundle.Load(modelDir, adapterDir: adapterDir, precision: options.Precision);
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
        var generated = ModelEvaluator.Run(bundle, task, split, options.Generation, progress);
        var traces = new List<DistillationTrace>();
        var perPrompt = new List<PromptAcceptance>();
        // Evaluation lists each prompt's k samples together, prompts in the split's order.
        foreach (var (example, group) in examples.Zip(generated.Samples.Chunk(options.Samples)))
        {
            var (kept, acceptance) = Judge(task, example, group.Select(s => new EvalSample(s.Completion, s.Tokens, s.HitLimit)).ToList(),
                bundle.Template.OpensThink, options);
            traces.AddRange(kept);
            perPrompt.Add(acceptance);
        }
        var summary = RejectionSamplingSummary.From(perPrompt, traces.Count, traces.Sum(t => (long)t.Tokens), options, task.Name, split,
            bundle.Directory, clock.Elapsed.TotalSeconds) with { Cost = meter.Card() };
        return new RejectionSamplingResult(traces, summary);
    }

    /// <summary>
    /// `r1 sample --endpoint`: the same traces from a teacher behind an OpenAI-compatible server. Each prompt's traces are
    /// written as soon as it and every prompt before it are done (<see cref="TraceJournal"/>), so rerunning with the same
    /// <paramref name="tracesPath"/> and settings resumes: prompts already done are skipped and nothing is written twice.
    /// The summary goes beside the traces, also when the run fails or is cancelled (then it covers the prompts done).
    /// </summary>
    public static async Task<RejectionSamplingSummary> RunAsync(OpenAiEndpoint endpoint, IVerifiableTask task, TaskSplit split,
        RejectionSamplingOptions options, string tracesPath, Action<int, int>? progress = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        var examples = ModelEvaluator.Examples(task, split, options.Generation);
        var settings = new JsonObject
        {
            ["endpoint_model"] = endpoint.Options.Model, ["task"] = task.Name, ["split"] = SnakeCase.Name(split), ["samples_per_prompt"] = options.Samples,
            ["temperature"] = options.Temperature, ["top_p"] = options.TopP, ["max_tokens"] = options.MaxTokens, ["seed"] = options.Seed,
            ["keep"] = SnakeCase.Name(options.Keep), ["shortest"] = options.Shortest,
        };
        using var journal = TraceJournal.Open(tracesPath, settings);
        int resumed = journal.Entries.Count;
        foreach (var (entry, example) in journal.Entries.Zip(examples))
            if (entry.PromptId != example.Id)
                throw new R1Error($"{TraceJournal.PathFor(tracesPath)}: prompt {entry.Prompt} was '{entry.PromptId}' and is now '{example.Id}': "
                    + "the prompts changed; resume with the same data, or choose another --out");
        var todo = examples.Skip(resumed).ToList();
        var before = endpoint.Counts;
        var (lastCounts, lastSeconds) = (before, 0.0);
        RejectionSamplingSummary summary;
        try
        {
            await EndpointGeneration.ForEachInOrderAsync(todo.Count, endpoint.Options.Concurrency,
                (i, c) => EndpointGeneration.SampleAsync(endpoint, todo[i], resumed + i, options.Generation, c),
                (i, prompt) =>
                {
                    // Replies are written as after a template that opened <think> (ChatReply.Completion).
                    var (kept, acceptance) = Judge(task, todo[i], prompt.Samples, templateOpenedThink: true, options);
                    var (counts, seconds) = (endpoint.Counts, clock.Elapsed.TotalSeconds);
                    journal.Commit(kept, acceptance, counts - lastCounts, seconds - lastSeconds);
                    (lastCounts, lastSeconds) = (counts, seconds);
                    progress?.Invoke(resumed + i + 1, Math.Max(examples.Count, resumed));
                }, cancellation);
        }
        finally
        {
            summary = Summary();
            summary.Save(RejectionSamplingSummary.PathFor(tracesPath));
        }
        return summary;

        // Every prompt in the file, and what every run that wrote it spent.
        RejectionSamplingSummary Summary()
        {
            var earlier = journal.Entries.Take(resumed).ToList();
            var usage = EndpointUsage.From(endpoint.Options, earlier.Aggregate(EndpointCounts.Zero, (sum, e) => sum + e.Usage) + (endpoint.Counts - before),
                earlier.Sum(e => e.Seconds) + clock.Elapsed.TotalSeconds);
            var entries = journal.Entries;
            return RejectionSamplingSummary.From(entries.Select(e => e.Acceptance).ToList(), entries.Sum(e => e.Kept), entries.Sum(e => e.KeptTokens),
                options, task.Name, split, endpoint.Options.Model, clock.Elapsed.TotalSeconds, usage, resumed);
        }
    }

    /// <summary>One prompt's k samples judged (correct, well-formed, finished): the traces to keep and the counts. Local and
    /// endpoint sampling share it.</summary>
    public static (List<DistillationTrace> Kept, PromptAcceptance Acceptance) Judge(IVerifiableTask task, TaskExample example,
        IReadOnlyList<EvalSample> samples, bool templateOpenedThink, RejectionSamplingOptions options)
    {
        var candidates = samples.Select(s => new DistillationTrace(example.Id, example.Prompt, example.Answer, s.Completion, templateOpenedThink,
            s.TokenCount, TraceVerdict.Judge(task, example, s.Completion, finished: !s.HitLimit, templateOpenedThink))).ToList();
        var kept = Select(candidates, options.Keep, options.Shortest);
        return (kept, new PromptAcceptance(example.Id, candidates.Count, candidates.Count(c => c.Verdict.Correct),
            candidates.Count(c => c.Verdict.WellFormed), candidates.Count(c => c.Verdict.Finished),
            candidates.Count(c => c.Verdict.Accepted), kept.Count));
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
