using System.Net;
using System.Text.Json.Nodes;
using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Remote;
using R1Sharp.Runs;
using R1Sharp.Server;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Datasets;
using R1Sharp.Tests.Distillation;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Remote;

/// <summary>
/// GRPO's rollouts on two `r1 serve` replicas on loopback (in this process, over the tiny teacher of the distillation
/// tests): the same tokens as in-process generation for the same seeds, the learner's weights — or its LoRA adapter —
/// synced to them before each step, a replica killed mid-run, and both killed.
/// </summary>
public class RolloutFleetTests
{
    /// <summary>Largest gap allowed between a server's log-prob of a token and in-process generation's: the same kernels
    /// run both, so they agree to float32 rounding.</summary>
    const double LogProbTolerance = 1e-4;

    static Task<R1Server> Replica(int port = 0) =>
        R1Server.StartAsync(new ServerOptions(TinyTeacher.Directory) { Host = "127.0.0.1", Port = port, AllowWeightUpdates = true });

    static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    static string Url(R1Server server) => new Uri(server.BaseAddress, "v1").ToString();

    static RolloutFleet Fleet(params R1Server[] servers) =>
        new(new RolloutFleetOptions { Urls = servers.Select(Url).ToList(), RetryDelaySeconds = 0.01, RequestTimeoutSeconds = 60 });

    static GrpoConfig Config(int steps, IReadOnlyList<string>? endpoints = null, bool lora = false) => new()
    {
        NumGenerations = 4, PromptsPerStep = 3, MaxCompletionLength = 12, MaxPromptLength = 64, LearningRate = lora ? 3e-2 : 3e-3,
        LrSchedulerType = LrSchedulerType.Constant, MaxSteps = steps, SaveSteps = 1, Seed = 11, Temperature = 1, TopP = 1,
        RolloutEndpoints = endpoints, LoraR = lora ? 4 : 0, LoraAlpha = 16, LoraDropout = 0,
    };

    static List<GenerationRequest> Requests(ModelBundle bundle, int count, int seed) => Enumerable.Range(0, count).Select(i =>
        new GenerationRequest(bundle.EncodeChat([ChatMessage.User($"p{i}")]),
            new SamplingOptions { Temperature = 1, TopP = 1, MaxNewTokens = 12, Seed = Seeds.ForRollout(seed, i) }, 4)).ToList();

    static void AssertSameRollouts(IReadOnlyList<IReadOnlyList<GeneratedSample>> expected, IReadOnlyList<IReadOnlyList<GeneratedSample>> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int r = 0; r < expected.Count; r++)
            for (int s = 0; s < expected[r].Count; s++)
            {
                Assert.Equal(expected[r][s].TokenIds, actual[r][s].TokenIds);
                Assert.Equal(expected[r][s].FinishReason, actual[r][s].FinishReason);
                for (int t = 0; t < expected[r][s].LogProbs.Length; t++)
                    Assert.InRange(actual[r][s].LogProbs[t] - expected[r][s].LogProbs[t], -LogProbTolerance, LogProbTolerance);
            }
    }

    [Fact]
    public async Task Two_r1_serve_replicas_sample_the_tokens_in_process_generation_samples_for_the_same_seeds()
    {
        using var bundle = ModelBundle.Load(TinyTeacher.Directory);
        var requests = Requests(bundle, 6, seed: 3);
        var local = new GenerationEngine(bundle.Model, bundle.Tokenizer).Generate(requests);

        await using var a = await Replica();
        await using var b = await Replica();
        using var fleet = Fleet(a, b);
        var remote = fleet.Generate(requests);
        AssertSameRollouts(local, remote);
        Assert.Contains(local.SelectMany(r => r), s => s.TokenIds.Length > 1);
        // Spread by load: six requests at once go three to each replica.
        var metrics = fleet.TakeMetrics();
        Assert.Equal(3, metrics[MetricNames.ReplicaRequests(0)]);
        Assert.Equal(3, metrics[MetricNames.ReplicaRequests(1)]);
        Assert.Equal(0, metrics[MetricNames.ReplicaErrors(0)] + metrics[MetricNames.ReplicaErrors(1)]);
    }

    [Fact]
    public async Task After_a_sync_every_replica_serves_the_new_weights_under_the_learners_version()
    {
        using var bundle = ModelBundle.Load(TinyTeacher.Directory);
        var requests = Requests(bundle, 4, seed: 5);
        await using var a = await Replica();
        await using var b = await Replica();
        using var fleet = Fleet(a, b);
        var before = fleet.Generate(requests);

        using (no_grad())
            foreach (var p in bundle.Model.parameters()) p.add_(randn_like(p) * 0.05);
        using var folder = new TempDir("r1-fleet-sync-");
        fleet.Sync(bundle.Model, version: 7, folder);
        var after = fleet.Generate(requests);
        AssertSameRollouts(new GenerationEngine(bundle.Model, bundle.Tokenizer).Generate(requests), after);
        Assert.NotEqual(before.SelectMany(r => r.SelectMany(s => s.TokenIds)), after.SelectMany(r => r.SelectMany(s => s.TokenIds)));
        foreach (var server in new[] { a, b })
        {
            Assert.Equal("7", server.Service.WeightVersion);
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            Assert.Equal("7", (string?)JsonNode.Parse(await http.GetStringAsync("health"))!["weight_version"]);
        }
        Assert.Equal(["step-7"], Directory.GetDirectories(folder).Select(Path.GetFileName));
    }

    static DatasetTask Task(TempDir folder) => DatasetTask.Load(TinyTeacher.PromptsFile(folder, 0, 12));

    /// <summary>GRPO over the tiny teacher, with a fresh LoRA adapter over it when the config sets lora_r.</summary>
    static IReadOnlyDictionary<string, double> Run(GrpoConfig config, DatasetTask task, RunFolder run, RolloutFleet? fleet,
        CheckpointInfo? from = null, Action<int>? onStep = null)
    {
        using var loaded = ModelBundle.Load(TinyTeacher.Directory);
        var bundle = config.PrepareModel(loaded);
        using var adapter = bundle.Adapter;
        return new GrpoTrainer(bundle.Model, config, GrpoEnvironment.For(task, bundle), adapter: adapter) { Fleet = fleet }
            .Run(run, from, onStep: onStep is null ? null : (step, _) => onStep(step));
    }

    /// <summary>What the replica serves now: its weight version, or with LoRA the fleet's step adapter it lists.</summary>
    static string? Served(R1Server server, bool lora) => lora
        ? Assert.Single(server.Service.ModelIds, id => id.StartsWith(RolloutFleet.AdapterNamePrefix))
        : server.Service.WeightVersion;

    /// <summary>Metrics that both runs compute alike: all but timing, the fleet's counters and the sampler/learner ratio.</summary>
    static void AssertSameTraining(IReadOnlyList<MetricsRow> expected, IReadOnlyList<MetricsRow> actual)
    {
        Assert.Equal(expected.Select(m => m.Step), actual.Select(m => m.Step));
        string[] timing = [MetricNames.StepTime, MetricNames.RolloutTokensPerSecond, MetricNames.TrainTokensPerSecond];
        for (int i = 0; i < expected.Count; i++)
            foreach (var (key, value) in expected[i].Values.Where(kv => !timing.Contains(kv.Key) && !kv.Key.StartsWith("rollout")))
                Assert.True(Math.Abs(value - actual[i].Values[key]) <= 1e-4 * Math.Max(1, Math.Abs(value)),
                    $"step {expected[i].Step} {key}: {value} in process vs {actual[i].Values[key]} on replicas");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_grpo_run_on_two_replicas_trains_as_the_in_process_run_and_survives_a_replica_killed_mid_run(bool lora)
    {
        using var folder = new TempDir("r1-fleet-grpo-");
        var task = Task(folder);
        using (var local = RunFolder.Create(folder, "local", "grpo", Config(3, lora: lora)))
            Run(Config(3, lora: lora), task, local, fleet: null);

        var a = await Replica();
        await using var b = await Replica();
        var config = Config(3, [Url(a), Url(b)], lora);
        using var run = RunFolder.Create(folder, "fleet", "grpo", config);
        using (var fleet = Recipes.RolloutFleetFor(config)!)
            Run(config, task, run, fleet, onStep: step => { if (step == 1) a.DisposeAsync().AsTask().GetAwaiter().GetResult(); });

        // Same seeds, same tokens, synced weights: the learner saw what it would have generated itself, step after step.
        var metrics = run.ReadMetrics();
        AssertSameTraining(RunFolder.Resume(folder, "local", out _).ReadMetrics(), metrics);
        Assert.Equal(2, metrics[0].Values[MetricNames.ReplicasLive]);
        Assert.Equal(1, metrics[1].Values[MetricNames.ReplicasLive]); // a was gone at step 2's sync
        Assert.Equal(1, metrics[1].Values[MetricNames.ReplicaErrors(0)]);
        Assert.Equal(config.PromptsPerStep, metrics[2].Values[MetricNames.ReplicaRequests(1)]);
        Assert.InRange(metrics[0].Values[MetricNames.RolloutIsMean], 0.999, 1.001);
        Assert.Equal(lora ? RolloutFleet.AdapterName(2) : "2", Served(b, lora));
        if (lora) Assert.Null(b.Service.WeightVersion); // the base was never replaced: only adapters crossed
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_every_replica_gone_the_run_saves_and_stops_with_a_clear_error_and_a_resumed_run_completes(bool lora)
    {
        using var folder = new TempDir("r1-fleet-resume-");
        var task = Task(folder);
        using (var local = RunFolder.Create(folder, "local", "grpo", Config(3, lora: lora)))
            Run(Config(3, lora: lora), task, local, fleet: null);

        var a = await Replica();
        var b = await Replica();
        int portA = a.BaseAddress.Port, portB = b.BaseAddress.Port;
        var config = Config(3, [Url(a), Url(b)], lora) with { SaveSteps = 0 };
        var run = RunFolder.Create(folder, "fleet", "grpo", config);
        using (var fleet = Recipes.RolloutFleetFor(config)!)
        {
            var error = Assert.Throws<StepNotTakenError>(() => Run(config, task, run, fleet, onStep: step =>
            {
                if (step != 1) return;
                a.DisposeAsync().AsTask().GetAwaiter().GetResult();
                b.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }));
            Assert.Contains("no rollout replica is left", error.Message);
            Assert.Contains("--resume", error.Message);
        }
        run.Dispose();

        await using var a2 = await Replica(portA);
        await using var b2 = await Replica(portB);
        using var resumed = RunFolder.Resume(folder, "fleet", out var checkpoint);
        Assert.Equal(1, checkpoint!.Step);
        using (var fleet = Recipes.RolloutFleetFor(config)!)
            Run(config, task, resumed, fleet, checkpoint);
        AssertSameTraining(RunFolder.Resume(folder, "local", out _).ReadMetrics(), resumed.ReadMetrics());
        foreach (var server in new[] { a2, b2 }) Assert.Equal(lora ? RolloutFleet.AdapterName(2) : "2", Served(server, lora));
    }

    [Fact]
    public async Task A_lora_run_has_every_replica_serve_each_steps_adapter_under_a_new_name_before_the_step()
    {
        using var folder = new TempDir("r1-fleet-lora-");
        var task = Task(folder);
        await using var a = await Replica();
        await using var b = await Replica();
        var config = Config(3, [Url(a), Url(b)], lora: true);
        using var run = RunFolder.Create(folder, "fleet", "grpo", config);
        // One fixed request to each replica after each step, with the adapter that step sampled from.
        using var probe = ModelBundle.Load(TinyTeacher.Directory);
        var request = Requests(probe, 1, seed: 2)[0];
        var seen = new List<float[][]>();
        using (var fleet = Recipes.RolloutFleetFor(config)!)
            Run(config, task, run, fleet, onStep: step =>
            {
                string name = RolloutFleet.AdapterName(step - 1); // step N samples from the adapter after N − 1 updates
                Assert.All(new[] { a, b }, server => Assert.Equal(name, Served(server, lora: true)));
                Assert.Equal([$"step-{step - 1}"], Directory.GetDirectories(Path.Combine(run.Path, "rollout_weights")).Select(Path.GetFileName));
                seen.Add(new[] { a, b }.Select(server => server.Service.StartTokens(request.PromptIds, request.Options, request.NumSamples, name)
                    .Samples.GetAwaiter().GetResult().SelectMany(s => s.LogProbs).ToArray()).ToArray());
            });
        Assert.Equal(3, seen.Count);
        foreach (var replicas in seen) Assert.Equal(replicas[0], replicas[1]); // both replicas serve the same adapter
        // Each sync changed what the replicas serve: the adapter trained between steps.
        for (int step = 1; step < seen.Count; step++) Assert.NotEqual(seen[step - 1][0], seen[step][0]);
        // Old step adapters were unloaded; the base is still the one each replica started with.
        foreach (var server in new[] { a, b })
        {
            Assert.Equal([server.Service.ModelId, RolloutFleet.AdapterName(2)], server.Service.ModelIds);
            Assert.Null(server.Service.WeightVersion);
        }
    }

    [Fact]
    public async Task A_replica_restarted_mid_run_rejoins_a_lora_run_with_the_current_adapter_loaded_first()
    {
        using var folder = new TempDir("r1-fleet-rejoin-");
        var task = Task(folder);
        using (var local = RunFolder.Create(folder, "local", "grpo", Config(3, lora: true)))
            Run(Config(3, lora: true), task, local, fleet: null);

        var a = await Replica();
        int portA = a.BaseAddress.Port;
        await using var b = await Replica();
        R1Server? restarted = null;
        var config = Config(3, [Url(a), Url(b)], lora: true);
        using var run = RunFolder.Create(folder, "fleet", "grpo", config);
        try
        {
            using (var fleet = Recipes.RolloutFleetFor(config)!)
                Run(config, task, run, fleet, onStep: step =>
                {
                    if (step == 1) a.DisposeAsync().AsTask().GetAwaiter().GetResult(); // out at step 2's sync
                    if (step == 2) restarted = Replica(portA).GetAwaiter().GetResult(); // back, with the base alone
                    if (step == 3) Assert.Equal(RolloutFleet.AdapterName(2), Served(restarted!, lora: true));
                });
            var metrics = run.ReadMetrics();
            Assert.Equal([2.0, 1, 2], metrics.Select(m => m.Values[MetricNames.ReplicasLive]));
            Assert.True(metrics[2].Values[MetricNames.ReplicaRequests(0)] > 0, "the restarted replica took no requests");
            AssertSameTraining(RunFolder.Resume(folder, "local", out _).ReadMetrics(), metrics);
        }
        finally
        {
            if (restarted is not null) await restarted.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_lora_sync_replaces_a_stale_adapter_of_the_same_name_and_leaves_other_adapters_alone()
    {
        using var bundle = ModelBundle.Load(TinyTeacher.Directory);
        using var folder = new TempDir("r1-fleet-stale-");
        await using var a = await Replica();
        using var stale = R1Sharp.Tests.Model.LoraTests.TrainedLookingAdapter(bundle.Model, seed: 1);
        using var fresh = R1Sharp.Tests.Model.LoraTests.TrainedLookingAdapter(bundle.Model, seed: 2);
        PeftAdapter.Save(stale, folder.File("stale"));
        PeftAdapter.Save(stale, folder.File("mine"));
        // A learner that stopped left step 4's adapter behind; an operator serves an adapter of their own.
        await a.Service.LoadAdapterAsync(RolloutFleet.AdapterName(4), folder.File("stale"));
        await a.Service.LoadAdapterAsync("mine", folder.File("mine"));
        using var fleet = Fleet(a);
        fleet.SyncAdapter(fresh, version: 4, folder.File("weights"));
        Assert.Equal(new HashSet<string> { a.Service.ModelId, "mine", RolloutFleet.AdapterName(4) }, a.Service.ModelIds.ToHashSet());
        var requests = Requests(bundle, 2, seed: 9);
        using (LoraAdapter.Use(bundle.Model, fresh))
            AssertSameRollouts(new GenerationEngine(bundle.Model, bundle.Tokenizer).Generate(requests), fleet.Generate(requests));
    }

    [Fact]
    public async Task Weight_updates_are_refused_at_start_for_a_quantized_model()
    {
        var error = await Assert.ThrowsAsync<R1Error>(() => R1Server.StartAsync(new ServerOptions(TinyTeacher.Directory)
        {
            Host = "127.0.0.1", Port = 0, AllowWeightUpdates = true,
            Serving = new R1Sharp.Serving.ServingOptions { Quantize = R1Sharp.Gguf.GgufDType.Q8_0 },
        }));
        Assert.Contains("--allow-weight-updates", error.Message);
        Assert.Contains("quantized", error.Message);
    }

    [Fact]
    public async Task R1_serve_refuses_weight_updates_unless_allowed_and_answers_completions_with_vllms_fields()
    {
        await using var server = await R1Server.StartAsync(new ServerOptions(TinyTeacher.Directory) { Host = "127.0.0.1", Port = 0 });
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var refused = await http.PostAsync("update_weights_from_disk", Json($$"""{"model_path": "{{TinyTeacher.Directory}}"}"""));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("--allow-weight-updates", await refused.Content.ReadAsStringAsync());

        var reply = await http.PostAsync("v1/completions", Json("""
            {"prompt": [112, 49], "n": 2, "max_tokens": 5, "seed": 4, "temperature": 1, "logprobs": 0, "return_token_ids": true}
            """));
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        var body = JsonNode.Parse(await reply.Content.ReadAsStringAsync())!;
        Assert.Equal("text_completion", (string?)body["object"]);
        foreach (var choice in body["choices"]!.AsArray())
        {
            var ids = choice!["token_ids"]!.AsArray();
            Assert.InRange(ids.Count, 1, 5);
            Assert.Equal(ids.Count, choice["logprobs"]!["token_logprobs"]!.AsArray().Count);
            Assert.Equal([112, 49], choice["prompt_token_ids"]!.AsArray().Select(t => (int)t!));
        }
        var noIds = JsonNode.Parse(await (await http.PostAsync("v1/completions", Json("""{"prompt": [112], "max_tokens": 2}"""))).Content.ReadAsStringAsync())!;
        Assert.Null(noIds["choices"]![0]!["token_ids"]);
        var bad = await http.PostAsync("v1/completions", Json("""{"prompt": [112], "logprobs": 3}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
