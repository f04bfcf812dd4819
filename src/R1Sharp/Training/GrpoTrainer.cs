using System.Diagnostics;
using System.Text.Json.Nodes;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>How GRPO turns a task example into prompt tokens and a completion back into text.</summary>
/// <param name="EncodePrompt">Renders the example's chat prompt with the model's template and tokenizes it.</param>
/// <param name="TemplateOpensThink">The rendered prompt ends with "&lt;think&gt;", so completions start inside the reasoning.</param>
public sealed record GrpoEnvironment(
    IVerifiableTask Task,
    CompositeReward Reward,
    ITextTokenizer Tokenizer,
    Func<TaskExample, IReadOnlyList<int>> EncodePrompt,
    bool TemplateOpensThink);

/// <summary>One scored completion of a step, kept for samples.jsonl.</summary>
public sealed record GrpoSample(string PromptId, string Completion, double Reward, double Accuracy, int Tokens, bool Truncated);

/// <summary>
/// Group Relative Policy Optimization (DeepSeekMath; DeepSeek-R1) with its successors' options, as TRL names
/// them: G samples per prompt, rewards from verifiable checks, advantages relative to the group, a clipped
/// (clip-higher) surrogate with optional k3 KL to a frozen reference, μ updates per rollout batch, four loss
/// aggregations, truncation masking and dynamic sampling.
/// </summary>
public sealed class GrpoTrainer(CausalLanguageModel policy, GrpoConfig config, GrpoEnvironment environment,
    CausalLanguageModel? reference = null)
{
    readonly GenerationEngine engine = new(policy, environment.Tokenizer);

    /// <summary>Runs max_steps optimizer steps (or until <paramref name="maxSeconds"/>); returns the last step's metrics.</summary>
    public IReadOnlyDictionary<string, double> Run(RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null, double maxSeconds = 0,
        Func<int, IReadOnlyDictionary<string, double>>? evaluate = null, CancellationToken cancellation = default)
    {
        config.Validate();
        if (config.Beta != 0 && reference is null) throw new R1Error("GRPO with beta > 0 needs a reference model");
        using var optimizer = AdamWSetup.Create(policy, config);
        var schedule = LearningRateSchedule.From(config);
        int step = 0;
        long promptsUsed = 0, rolloutSeed = config.Seed;
        double elapsed = 0;
        if (resumeFrom is not null)
        {
            var state = TrainerState.Load(resumeFrom.Path, policy, optimizer);
            step = state["step"]!.GetValue<int>();
            promptsUsed = state["prompts_used"]!.GetValue<long>();
            elapsed = state["elapsed_seconds"]!.GetValue<double>();
        }
        using var prompts = environment.Task.Examples(TaskSplit.Train, config.Seed).GetEnumerator();
        for (long i = 0; i < promptsUsed; i++) NextPrompt(prompts);

        var metrics = new Dictionary<string, double>();
        while (step < config.MaxSteps && (maxSeconds == 0 || elapsed < maxSeconds))
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var rollouts = Rollouts(prompts, step, ref promptsUsed, out double rolloutSeconds, out int generationRounds);
            var update = Update(optimizer, schedule.Apply(optimizer, step), rollouts);
            step++;
            double seconds = clock.Elapsed.TotalSeconds;
            elapsed += seconds;

            metrics = new Dictionary<string, double>(rollouts.Metrics);
            foreach (var (k, v) in update) metrics[k] = v;
            metrics[MetricNames.StepTime] = seconds;
            metrics[MetricNames.RolloutTokensPerSecond] = rollouts.GeneratedTokens / rolloutSeconds;
            metrics[MetricNames.TrainTokensPerSecond] = rollouts.TrainedTokens * config.NumIterations / Math.Max(1e-9, seconds - rolloutSeconds);
            metrics["generation_rounds"] = generationRounds;
            if (evaluate is not null && config.EvalSteps > 0 && (step % config.EvalSteps == 0 || step == config.MaxSteps))
                foreach (var (k, v) in evaluate(step)) metrics[k] = v;
            run.LogMetrics(step, metrics);
            if (step % config.LoggingSteps == 0 || step == 1)
                foreach (var sample in rollouts.Samples.Take(4)) run.LogSample(step, sample);
            onStep?.Invoke(step, metrics);

            bool last = step == config.MaxSteps || (maxSeconds > 0 && elapsed >= maxSeconds);
            if (last || (config.SaveSteps > 0 && step % config.SaveSteps == 0))
            {
                var state = new JsonObject { ["step"] = step, ["prompts_used"] = promptsUsed, ["elapsed_seconds"] = elapsed };
                run.SaveCheckpoint(step, dir => TrainerState.Save(dir, policy, optimizer, state), config.SaveTotalLimit);
            }
        }
        return metrics;
    }

    static TaskExample NextPrompt(IEnumerator<TaskExample> prompts) =>
        prompts.MoveNext() ? prompts.Current : throw new R1Error("the task ran out of training prompts");

    /// <summary>The scored rollouts of one step, grouped G per prompt.</summary>
    sealed record RolloutBatch(
        List<(IReadOnlyList<int> Prompt, GeneratedSample Sample)> Rows,
        double[] Rewards, bool[] Truncated, Dictionary<string, double> Metrics, List<GrpoSample> Samples,
        long GeneratedTokens)
    {
        public long TrainedTokens => Rows.Sum(r => (long)r.Sample.TokenIds.Length);
    }

    RolloutBatch Rollouts(IEnumerator<TaskExample> prompts, int step, ref long promptsUsed, out double seconds, out int rounds)
    {
        var clock = Stopwatch.StartNew();
        int g = config.NumGenerations;
        var options = new SamplingOptions
        {
            Temperature = config.Temperature, TopP = config.TopP, TopK = config.TopK,
            MaxNewTokens = config.MaxCompletionLength, Seed = null,
        };
        var kept = new List<(TaskExample Example, IReadOnlyList<int> Prompt, IReadOnlyList<GeneratedSample> Samples, RewardBreakdown[] Scores)>();
        var allScores = new List<RewardBreakdown>();
        var allSamples = new List<GeneratedSample>();
        long generated = 0;
        rounds = 0;
        // Dynamic sampling (DAPO) draws more prompts until the step has prompts_per_step informative groups.
        while (kept.Count < config.PromptsPerStep && rounds < (config.DynamicSampling ? config.MaxNumGenBatches : 1))
        {
            rounds++;
            int want = config.PromptsPerStep - kept.Count;
            var examples = Enumerable.Range(0, want).Select(_ => NextPrompt(prompts)).ToList();
            long firstPrompt = promptsUsed;
            promptsUsed += want;
            var encoded = examples.Select(e => TruncatePrompt(environment.EncodePrompt(e))).ToList();
            // Each prompt's seed follows from the run seed and how many prompts came before, so a resumed run samples alike.
            var requests = encoded.Select((p, i) => new GenerationRequest(p,
                options with { Seed = Seeds.ForPrompt(config.Seed, firstPrompt + i) }, g)).ToList();
            var results = engine.Generate(requests);
            for (int i = 0; i < examples.Count; i++)
            {
                var scores = results[i].Select(s => Score(examples[i], s)).ToArray();
                generated += results[i].Sum(s => s.TokenIds.Length);
                allScores.AddRange(scores);
                allSamples.AddRange(results[i]);
                bool informative = scores.Select(s => s.Total).Distinct().Count() > 1;
                if (!config.DynamicSampling || informative) kept.Add((examples[i], encoded[i], results[i], scores));
            }
        }
        if (kept.Count == 0) // every group was uninformative for max_num_gen_batches rounds: train on nothing this step
            kept.Add((null!, [], [], []));
        kept.RemoveAll(k => k.Samples.Count == 0);

        var rows = kept.SelectMany(k => k.Samples.Select(s => (k.Prompt, s))).ToList();
        var rewards = kept.SelectMany(k => k.Scores.Select(s => s.Total)).ToArray();
        var truncated = kept.SelectMany(k => k.Samples.Select(s => s.FinishReason == FinishReason.Length)).ToArray();

        // Metrics describe everything sampled this step, kept or not.
        var metrics = new Dictionary<string, double>();
        if (allScores.Count > 0)
        {
            var perFunction = allScores[0].Scores.Keys.ToDictionary(k => k, k => (IReadOnlyList<double>)allScores.Select(s => s.Scores[k]).ToList());
            foreach (var (k, v) in RolloutStats.Rewards(allScores.Select(s => s.Total).ToList(), perFunction, g)) metrics[k] = v;
            foreach (var (k, v) in RolloutStats.Completions(allSamples.Select(s => s.TokenIds.Length).ToList(),
                         allSamples.Select(s => s.FinishReason == FinishReason.Length).ToList())) metrics[k] = v;
            metrics[MetricNames.Accuracy] = allScores.Average(s => s.Accuracy);
        }
        var samples = kept.SelectMany(k => k.Samples.Zip(k.Scores, (s, r) => new GrpoSample(k.Example.Id,
            environment.Tokenizer.Decode(s.TokenIds), r.Total, r.Accuracy, s.TokenIds.Length, s.FinishReason == FinishReason.Length))).ToList();
        seconds = clock.Elapsed.TotalSeconds;
        return new RolloutBatch(rows, rewards, truncated, metrics, samples, generated);
    }

    IReadOnlyList<int> TruncatePrompt(IReadOnlyList<int> prompt) =>
        prompt.Count <= config.MaxPromptLength ? prompt : prompt.Skip(prompt.Count - config.MaxPromptLength).ToArray();

    RewardBreakdown Score(TaskExample example, GeneratedSample sample)
    {
        var tokens = sample.TokenIds.AsEnumerable();
        if (environment.Tokenizer.EosId is int eos && sample.TokenIds.Length > 0 && sample.TokenIds[^1] == eos) tokens = tokens.SkipLast(1);
        string completion = environment.Tokenizer.Decode(tokens);
        return environment.Reward.Score(new RewardContext(environment.Task, example, completion, environment.TemplateOpensThink,
            sample.TokenIds.Length, config.MaxCompletionLength));
    }

    Dictionary<string, double> Update(TorchSharp.Modules.AdamW optimizer, double lr, RolloutBatch batch)
    {
        var result = new Dictionary<string, double> { [MetricNames.LearningRate] = lr };
        if (batch.Rows.Count == 0) return result;
        using var scope = NewDisposeScope();
        var advantages = tensor(GroupAdvantages.Compute(batch.Rewards, config.NumGenerations, config.ScaleRewards), device: policy.Device);
        int micro = config.GradientAccumulationSteps;
        int rowsPerMicro = (batch.Rows.Count + micro - 1) / micro;
        var chunks = Enumerable.Range(0, micro).Select(m => Enumerable.Range(m * rowsPerMicro,
            Math.Max(0, Math.Min(rowsPerMicro, batch.Rows.Count - m * rowsPerMicro))).ToArray()).Where(c => c.Length > 0).ToList();
        var batches = chunks.Select(c => new CompletionBatch(c.Select(i => (batch.Rows[i].Prompt, (IReadOnlyList<int>)batch.Rows[i].Sample.TokenIds)).ToList(),
            environment.Tokenizer.PadId ?? environment.Tokenizer.EosId ?? 0, policy.Device)).ToList();
        var masks = chunks.Select((c, j) => CompletionMask.Build(c.Select(i => batch.Rows[i].Sample.TokenIds.Length).ToList(),
            batches[j].CompletionLength, c.Select(i => batch.Truncated[i]).ToList(), config.MaskTruncatedCompletions).to(policy.Device)).ToList();
        double activeTokens = masks.Sum(m => m.sum().item<float>());

        // Old-policy and reference log-probs are fixed for the whole rollout batch.
        List<Tensor?> oldLogProbs = batches.Select(_ => (Tensor?)null).ToList();
        List<Tensor?> refLogProbs = batches.Select(_ => (Tensor?)null).ToList();
        using (no_grad())
        {
            policy.eval();
            if (config.NumIterations > 1)
                oldLogProbs = batches.Select(b => (Tensor?)TokenLogProbs.Compute(policy, b, config.Temperature).LogProbs).ToList();
            if (config.Beta != 0)
            {
                reference!.eval();
                refLogProbs = batches.Select(b => (Tensor?)TokenLogProbs.Compute(reference, b, config.Temperature).LogProbs).ToList();
            }
        }

        var stats = new PolicyLossStats();
        double gradNorm = 0;
        policy.train();
        for (int iteration = 0; iteration < config.NumIterations; iteration++)
        {
            for (int j = 0; j < batches.Count; j++)
            {
                using var microScope = NewDisposeScope();
                var (logProbs, entropy) = TokenLogProbs.Compute(policy, batches[j], config.Temperature, withEntropy: true);
                var rows = tensor(chunks[j].Select(i => (long)i).ToArray(), device: policy.Device);
                using var loss = PolicyLoss.Compute(new PolicyLossInputs
                {
                    LogProbs = logProbs, OldLogProbs = oldLogProbs[j], RefLogProbs = refLogProbs[j],
                    Advantages = advantages.index_select(0, rows), Mask = masks[j], Entropies = entropy,
                }, config, micro, activeTokens);
                loss.Loss.backward();
                stats += loss.Stats;
            }
            gradNorm = GradientClipping.ClipGlobalNorm(policy.parameters(), config.MaxGradNorm);
            optimizer.step();
            optimizer.zero_grad();
        }
        foreach (var b in batches) b.Dispose();
        foreach (var (k, v) in stats.ToMetrics(config.NumIterations)) result[k] = v;
        result[MetricNames.GradNorm] = gradNorm;
        return result;
    }
}
