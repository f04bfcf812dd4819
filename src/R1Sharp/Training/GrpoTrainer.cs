using System.Diagnostics;
using R1Sharp.Checkpoints;
using R1Sharp.Evaluation;
using R1Sharp.Generation;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Remote;
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
    bool TemplateOpensThink)
{
    /// <summary>The usual environment: the task's prompts in the model's chat template, scored by R1's standard
    /// rewards (weighted by <paramref name="rewardWeights"/>, TRL's reward_weights, when given).</summary>
    public static GrpoEnvironment For(IVerifiableTask task, ModelBundle bundle, IReadOnlyList<double>? rewardWeights = null) =>
        new(task, rewardWeights is { } weights ? CompositeReward.Standard().Reweighted(weights) : CompositeReward.Standard(), bundle.Tokenizer,
            e => bundle.EncodeChat(e.Prompt), bundle.Template.OpensThink);
}

/// <summary>One scored completion of a step, kept for samples.jsonl (fields in docs/training.md).</summary>
/// <param name="Prompt">The prompt as the model saw it (chat template applied, cut to max_prompt_length tokens).</param>
/// <param name="Completion">The generated text, without the end-of-sequence token.</param>
/// <param name="Tokens">Generated tokens, end-of-sequence included.</param>
public sealed record GrpoSample(string PromptId, string Prompt, string Completion, double Reward, double Accuracy, int Tokens, bool Truncated);

/// <summary>
/// Group Relative Policy Optimization (DeepSeekMath; DeepSeek-R1) with its successors' options, as TRL names
/// them: G samples per prompt, rewards from verifiable checks, advantages relative to the group, a clipped
/// (clip-higher) surrogate with optional k3 KL to a frozen reference, μ updates per rollout batch, four loss
/// aggregations, truncation masking and dynamic sampling.
/// </summary>
/// <param name="reference">The frozen reference of the KL term (beta ≠ 0). With a LoRA <paramref name="adapter"/> it may be
/// null: the reference is then the policy with its adapter switched off, the base, without a second copy of the model.</param>
/// <param name="adapter">A LoRA adapter over the frozen <paramref name="policy"/>: then only it is trained and checkpointed.</param>
public sealed class GrpoTrainer(CausalLanguageModel policy, GrpoConfig config, GrpoEnvironment environment,
    CausalLanguageModel? reference = null, LoraAdapter? adapter = null)
{
    readonly GenerationEngine engine = new(policy, environment.Tokenizer);

    /// <summary>Servers that generate the rollouts instead of this process (rollout_endpoints), synced to the policy
    /// before every step; null generates in process.</summary>
    public RolloutFleet? Fleet { get; init; }

    /// <summary>What the optimizer updates: the adapter, or the whole policy.</summary>
    TorchSharp.torch.nn.Module Trained => adapter is null ? policy : adapter;

    /// <summary>Runs max_steps optimizer steps (or until max_seconds); returns the last step's metrics.</summary>
    /// <param name="evaluate">Held-out metrics for every eval_steps-th step (see <see cref="HeldOutEvaluation"/>).</param>
    public IReadOnlyDictionary<string, double> Run(RunFolder run, CheckpointInfo? resumeFrom = null,
        Action<int, IReadOnlyDictionary<string, double>>? onStep = null,
        Func<IReadOnlyDictionary<string, double>>? evaluate = null, CancellationToken cancellation = default)
    {
        config.Validate();
        if (config.Beta != 0 && reference is null && adapter is null) throw new R1Error("GRPO with beta > 0 needs a reference model");
        adapter?.Activate();
        using var optimizer = config.CreateOptimizer(Trained);
        var loop = new TrainingLoop(config, run, policy, optimizer, adapter);
        var prompts = new PromptStream(environment.Task, config.Seed, loop.Resume(resumeFrom).PromptsUsed ?? 0);
        var runner = ForwardRunner.For(policy);
        var before = runner.WeightPrecision;
        try
        {
            if (Fleet is null) run.Store.Notify($"rollout weights {GenerationPrecision.Apply(policy, config.RolloutPrecision).Reason}");
            return loop.Run((index, lr) => Step(index + 1, lr, optimizer, prompts, run, loop.Precision), state => state with { PromptsUsed = prompts.Position },
                evaluate, onStep, cancellation);
        }
        finally
        {
            runner.WeightPrecision = before;
        }
    }

    /// <summary>Step <paramref name="step"/> (1-based): rollouts, scores, the policy update, its metrics and samples.</summary>
    Dictionary<string, double> Step(int step, double lr, TorchSharp.Modules.AdamW optimizer, PromptStream prompts, RunFolder run,
        PrecisionChoice precision)
    {
        double syncSeconds = Fleet is null ? 0 : SyncFleet(step - 1, run);
        var rollouts = Rollouts(prompts, out double rolloutSeconds, out int generationRounds);
        var clock = Stopwatch.StartNew();
        var update = Update(optimizer, lr, rollouts, precision);
        double trainSeconds = clock.Elapsed.TotalSeconds;

        var metrics = new Dictionary<string, double>(rollouts.Metrics);
        foreach (var (k, v) in update) metrics[k] = v;
        metrics[MetricNames.RolloutTokensPerSecond] = rollouts.GeneratedTokens / rolloutSeconds;
        metrics[MetricNames.TrainTokensPerSecond] = rollouts.TrainedTokens * config.NumIterations / Math.Max(1e-9, trainSeconds);
        metrics[MetricNames.GenerationRounds] = generationRounds;
        if (Fleet is not null)
        {
            metrics[MetricNames.WeightSyncSeconds] = syncSeconds;
            foreach (var (k, v) in Fleet.TakeMetrics()) metrics[k] = v;
        }
        if (step % config.LoggingSteps == 0 || step == 1)
            foreach (var sample in rollouts.Samples.Take(4)) run.LogSample(step, sample);
        return metrics;
    }

    /// <summary>
    /// Has every rollout server serve the policy's weights (or its LoRA adapter) after <paramref name="version"/> steps; returns the seconds
    /// it took. No server left is a <see cref="StepNotTakenError"/>: nothing of the step has run, so the run saves.
    /// </summary>
    double SyncFleet(int version, RunFolder run)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            string dir = config.RolloutWeightsDir ?? Path.Combine(run.Path, "rollout_weights");
            // With LoRA the servers keep the frozen base and take only the adapter.
            if (adapter is not null) Fleet!.SyncAdapter(adapter, version, dir);
            else Fleet!.Sync(policy, version, dir);
        }
        catch (NoReplicaLeftError e)
        {
            throw new StepNotTakenError(e.Message, e);
        }
        return clock.Elapsed.TotalSeconds;
    }

    IReadOnlyList<IReadOnlyList<GeneratedSample>> Generate(IReadOnlyList<GenerationRequest> requests)
    {
        if (Fleet is null) return engine.Generate(requests);
        try
        {
            return Fleet.Generate(requests);
        }
        catch (NoReplicaLeftError e)
        {
            // Rollouts come before the update: the model and the saved counters are still the last step's.
            throw new StepNotTakenError(e.Message, e);
        }
    }

    /// <summary>The scored rollouts of one step, grouped G per prompt.</summary>
    sealed record RolloutBatch(
        List<(IReadOnlyList<int> Prompt, GeneratedSample Sample)> Rows,
        double[] Rewards, bool[] Truncated, Dictionary<string, double> Metrics, List<GrpoSample> Samples,
        long GeneratedTokens)
    {
        public long TrainedTokens => Rows.Sum(r => (long)r.Sample.TokenIds.Length);
    }

    RolloutBatch Rollouts(PromptStream prompts, out double seconds, out int rounds)
    {
        var clock = Stopwatch.StartNew();
        policy.eval(); // sampling, not training: no LoRA dropout
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
            long firstPrompt = prompts.Position;
            var examples = Enumerable.Range(0, want).Select(_ => prompts.Next()).ToList();
            var encoded = examples.Select(e => TruncatePrompt(environment.EncodePrompt(e))).ToList();
            // Each prompt's seed follows from the run seed and how many prompts came before, so a resumed run samples alike.
            var requests = encoded.Select((p, i) => new GenerationRequest(p,
                options with { Seed = Seeds.ForRollout(config.Seed, firstPrompt + i) }, g)).ToList();
            var results = Generate(requests);
            var scores = examples.Select((e, i) => results[i].Select(s => Score(e, s)).ToArray()).ToList();
            var uninformative = DynamicSampling.ZeroVarianceGroups(scores.SelectMany(s => s.Select(r => r.Total)).ToList(), g);
            for (int i = 0; i < examples.Count; i++)
            {
                generated += results[i].Sum(s => s.TokenIds.Length);
                allScores.AddRange(scores[i]);
                allSamples.AddRange(results[i]);
                if (!config.DynamicSampling || !uninformative[i]) kept.Add((examples[i], encoded[i], results[i], scores[i]));
            }
        }

        // Every group uninformative for max_num_gen_batches rounds leaves nothing to train on this step.
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
        var samples = kept.SelectMany(k => k.Samples.Zip(k.Scores, (s, r) => new GrpoSample(k.Example.Id, environment.Tokenizer.Decode(k.Prompt),
            ModelEvaluator.CompletionText(environment.Tokenizer, s), r.Total, r.Accuracy, s.TokenIds.Length, s.FinishReason == FinishReason.Length))).ToList();
        seconds = clock.Elapsed.TotalSeconds;
        return new RolloutBatch(rows, rewards, truncated, metrics, samples, generated);
    }

    /// <summary>
    /// GRPO's periodic check that RL generalises: greedy accuracy on up to 64 prompts of the task's held-out (test)
    /// split, generated and graded by the evaluator as `r1 eval` does. Null when the task has no held-out prompts.
    /// </summary>
    public static Func<IReadOnlyDictionary<string, double>>? HeldOutEvaluation(ModelBundle bundle, IVerifiableTask task, GrpoConfig config)
    {
        if (!task.Examples(TaskSplit.Test, config.Seed).Any()) return null;
        var greedy = new ModelEvalOptions
        {
            Prompts = 64, Samples = 1, Temperature = 0, TopP = 1, MaxTokens = config.MaxCompletionLength, Seed = config.Seed, Greedy = false,
        };
        return () =>
        {
            bundle.Model.eval();
            return new Dictionary<string, double> { [MetricNames.EvalAccuracy] = ModelEvaluator.Run(bundle, task, TaskSplit.Test, greedy).Report.PassAt1 };
        };
    }

    /// <summary>Log-probs of a batch's completions under a fixed model (old policy, reference): a forward-only pass.</summary>
    Tensor Scored(CausalLanguageModel model, CompletionBatch batch)
    {
        ComputeMeter.Current?.Forwarded(model, batch.InputIds, batch.AttentionMask);
        return TokenLogProbs.Compute(model, batch, config.Temperature).LogProbs;
    }

    /// <summary>[B, width] log-probs the sampler reported for each completion's tokens, right-padded with 0.</summary>
    Tensor SamplerLogProbs(IReadOnlyList<GeneratedSample> samples, int width)
    {
        var values = new float[samples.Count * width];
        for (int b = 0; b < samples.Count; b++) samples[b].LogProbs.AsSpan(0, Math.Min(width, samples[b].LogProbs.Length)).CopyTo(values.AsSpan(b * width));
        return tensor(values, device: policy.Device).view(samples.Count, width);
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

    Dictionary<string, double> Update(TorchSharp.Modules.AdamW optimizer, double lr, RolloutBatch batch, PrecisionChoice precision)
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
        // Old and reference log-probs in the learner's precision, so the ratio compares like with like.
        using (no_grad())
        using (precision.Autocast(policy.Device))
        {
            policy.eval();
            if (config.NumIterations > 1)
                oldLogProbs = batches.Select(b => (Tensor?)Scored(policy, b)).ToList();
            if (config.Beta != 0 && reference is not null)
            {
                reference.eval();
                refLogProbs = batches.Select(b => (Tensor?)Scored(reference, b)).ToList();
            }
            else if (config.Beta != 0)
                using (LoraAdapter.Use(policy, null)) // the base: the policy with its adapter off
                    refLogProbs = batches.Select(b => (Tensor?)Scored(policy, b)).ToList();
        }

        // The sampler's log-probs of the same tokens, for the importance ratio (and TIS weights) of each micro-batch.
        var samplerLogProbs = chunks.Select((c, j) => SamplerLogProbs(c.Select(i => batch.Rows[i].Sample).ToList(), batches[j].CompletionLength)).ToList();
        var importanceWeights = batches.Select(_ => (Tensor?)null).ToList();
        var importance = new RolloutImportanceStats();

        var stats = new PolicyLossStats();
        double gradNorm = 0;
        policy.train();
        for (int iteration = 0; iteration < config.NumIterations; iteration++)
        {
            for (int j = 0; j < batches.Count; j++)
            {
                using var microScope = NewDisposeScope();
                Tensor logProbs;
                Tensor? entropy;
                using (precision.Autocast(policy.Device))
                    (logProbs, entropy) = TokenLogProbs.Compute(policy, batches[j], config.Temperature, withEntropy: true);
                var rows = tensor(chunks[j].Select(i => (long)i).ToArray(), device: policy.Device);
                if (iteration == 0)
                {
                    // The learner's log-probs before this batch's first update: the old policy's, or this forward's.
                    var (weights, measured) = RolloutImportance.Compute(oldLogProbs[j] ?? logProbs, samplerLogProbs[j], masks[j], config.RolloutIsCap);
                    importanceWeights[j] = weights?.MoveToOuterDisposeScope();
                    importance += measured;
                }
                using var loss = PolicyLoss.Compute(new PolicyLossInputs
                {
                    LogProbs = logProbs, OldLogProbs = oldLogProbs[j], RefLogProbs = refLogProbs[j],
                    Advantages = advantages.index_select(0, rows), Mask = masks[j], Entropies = entropy, ImportanceWeights = importanceWeights[j],
                }, config, micro, activeTokens);
                loss.Loss.backward();
                ComputeMeter.Current?.Trained(policy, batches[j].InputIds, batches[j].AttentionMask);
                stats += loss.Stats;
            }
            gradNorm = GradientClipping.ClipGlobalNorm(Trained.parameters(), config.MaxGradNorm);
            optimizer.step();
            optimizer.zero_grad();
            ForwardRunner.For(policy).WeightsChanged(); // in place: bf16 rollout weights are copied again
        }
        foreach (var b in batches) b.Dispose();
        foreach (var (k, v) in stats.ToMetrics(config.NumIterations)) result[k] = v;
        foreach (var (k, v) in importance.ToMetrics()) result[k] = v;
        result[MetricNames.GradNorm] = gradNorm;
        return result;
    }
}

/// <summary>
/// GRPO's training prompts, in epochs. A task that generates its problems (the synthetic tasks, already in an order
/// fixed by the seed) is read as it comes; a data set (a file's records) is shuffled. Once the prompts run out, each
/// further epoch goes through them again in a fresh order shuffled from (seed, epoch), as TRL's sampler does. The
/// position — prompts drawn, over all epochs — is all a resumed run needs to draw the same prompts.
/// </summary>
public sealed class PromptStream
{
    readonly IVerifiableTask task;
    readonly int seed;
    IEnumerator<TaskExample>? firstPass;
    IReadOnlyList<TaskExample> all = [];
    ShuffledSampler? sampler;

    public PromptStream(IVerifiableTask task, int seed, long position = 0)
    {
        this.task = task;
        this.seed = seed;
        var examples = task.Examples(TaskSplit.Train, seed);
        if (examples is IReadOnlyList<TaskExample> list) Reshuffle(list, epochsDone: 0);
        else firstPass = examples.GetEnumerator();
        while (Position < position) Next();
    }

    /// <summary>Prompts drawn so far.</summary>
    public long Position { get; private set; }

    public TaskExample Next()
    {
        if (firstPass is not null)
        {
            if (firstPass.MoveNext())
            {
                Position++;
                return firstPass.Current;
            }
            firstPass.Dispose();
            firstPass = null;
            // The generator has given every problem it has: the next epochs reshuffle those.
            Reshuffle(task.Examples(TaskSplit.Train, seed).ToList(), epochsDone: 1);
        }
        Position++;
        return all[sampler!.Next()];
    }

    void Reshuffle(IReadOnlyList<TaskExample> examples, int epochsDone)
    {
        if (examples.Count == 0) throw new R1Error($"task '{task.Name}' has no training prompts");
        all = examples;
        sampler = new ShuffledSampler(examples.Count, (ulong)seed, position: (long)epochsDone * examples.Count);
    }
}
