using System.Text.Json.Nodes;
using R1Sharp.Cli;
using R1Sharp.Generation;
using R1Sharp.Model;
using R1Sharp.Runs;
using R1Sharp.Tests.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Runs;

public class CostCardTests : IDisposable
{
    readonly TempDir dir = new("r1-cost-");

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Llama_flops_match_a_hand_count_of_the_multiply_adds()
    {
        // One layer, hidden 8, 2 query heads and 1 key/value head of width 4, MLP 16, vocabulary 10, lm_head untied.
        var c = new ModelConfig
        {
            Family = ModelFamily.Llama, VocabSize = 10, HiddenSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1,
            IntermediateSize = 16, TieWordEmbeddings = false,
        };
        // Multiply-adds per token: q 8·8 + k 8·4 + v 8·4 + o 8·8 = 192; gate, up, down 3·8·16 = 384; lm_head 10·8 = 80;
        // the embedding is a lookup. N = 656.
        var flops = ModelFlops.Of(c);
        Assert.Equal(656, flops.MatmulParameters);
        // Attention against c positions: scores 2 heads · 4 · c, values 2 · 4 · c = 16c multiply-adds.
        // Training a 5-token row: 3 × forward, forward = 2 FLOPs per multiply-add, every token against all 5 positions:
        // 5 · 3 · 2 · (656 + 16·5) = 22080 — PaLM's 6N + 12·L·H·d·T = 3936 + 96·5 per token.
        Assert.Equal(22080, flops.Training(5));
        Assert.Equal(5 * (6 * 656 + 12 * 1 * 2 * 4 * 5), flops.Training(5));
        Assert.Equal(22080 / 3.0, flops.Forward(5));
        // Prefill of 3 prompt tokens (attending to 1, 2, 3 positions), logits for the last only:
        // 2·(576·3 + 80·1 + 16·(1 + 2 + 3)) = 3808. Decoding one token against 4 cached positions: 2·(656 + 16·4) = 1440.
        Assert.Equal(3808, flops.Cached(tokens: 3, contextSum: 6, logitRows: 1));
        Assert.Equal(1440, flops.Cached(tokens: 1, contextSum: 4, logitRows: 1));
    }

    [Fact]
    public void Mla_and_moe_flops_use_the_active_experts_and_mlas_own_widths()
    {
        // DeepSeek-V3's layout at toy size: MLA (no q compression) and a MoE layer of 4 routed experts, top-2, 1 shared.
        var c = new ModelConfig
        {
            Family = ModelFamily.DeepseekV3, VocabSize = 10, HiddenSize = 8, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 2,
            QLoraRank = null, KvLoraRank = 6, QkNopeHeadDim = 4, QkRopeHeadDim = 2, VHeadDim = 4,
            NRoutedExperts = 4, NumExpertsPerTok = 2, NSharedExperts = 1, MoeIntermediateSize = 6, FirstKDenseReplace = 0,
            IntermediateSize = 16, TieWordEmbeddings = true,
        };
        // q_proj 8 → 2·(4+2): 96; kv_a 8 → 6+2: 64; kv_b 6 → 2·(4+4): 96; o 2·4 → 8: 64. Router 8 → 4: 32; two routed
        // experts 2·3·8·6 = 288 (the other two idle); the shared one 144. lm_head = the tied embedding, 10·8 = 80. N = 864.
        var flops = ModelFlops.Of(c);
        Assert.Equal(96 + 64 + 96 + 64 + 32 + 288 + 144 + 80, flops.MatmulParameters);
        Assert.Equal(864, flops.MatmulParameters);
        // Training (naive MLA): scores 2 heads · (4+2) · c + values 2 · 4 · c = 20c; a 3-token row: 3 · 6 · (864 + 20·3).
        Assert.Equal(3 * 6 * (864 + 20 * 3), flops.Training(3));
        // Generation (absorbed MLA, in the latent): scores 2 · (6+2) · c + values 2 · 6 · c = 28c; one token against 5 positions.
        Assert.Equal(2 * (864 + 28 * 5), flops.Cached(tokens: 1, contextSum: 5, logitRows: 1));
    }

    [Fact]
    public void DeepSeek_V3s_pretraining_by_the_cards_formula_is_the_figure_docs_results_states()
    {
        // docs/results.md, "What it costs": 14.8T tokens in 4K-token sequences, 37B active parameters.
        var flops = ModelFlops.Of(ModelStatsTests.DeepSeekV3);
        double perToken = flops.Training(4096) / 4096, total = perToken * 14.8e12;
        Assert.InRange(flops.MatmulParameters / 1e9, 36.5, 38);
        Assert.InRange(total, 4.15e24, 4.25e24);
        var card = CostCard.From(new ComputeMeasurement(new ComputeWork(TrainingTokens: 1, TrainingFlops: total), 0, 0, false), new CostRates());
        Assert.InRange(card.H100Seconds / 3600 / 1e6, 2.9, 3.0);   // million H100-hours at 40% MFU
        Assert.InRange(card.H100Dollars / 1e6, 5.8, 6.0);          // $ million at $2/h
    }

    [Fact]
    public void The_decode_loop_counts_prefill_once_per_prompt_and_each_decoded_token_against_its_cache()
    {
        using var model = TinyModels.Create(ModelFamily.Llama);
        var flops = ModelFlops.Of(model.Config);
        using var meter = ComputeMeter.Start();
        // No tokenizer: only max_new_tokens ends a sample, so each of the 2 samples has exactly 4 tokens.
        new GenerationEngine(model).Generate([new GenerationRequest([5, 6, 7], new SamplingOptions { Temperature = 1, MaxNewTokens = 4, Seed = 1 }, NumSamples: 2)]);
        var work = meter.Measure().Work;
        // Prefill: 3 tokens attending to 1 + 2 + 3 positions, once for both samples. Decode: the first 3 of each sample's
        // 4 tokens are fed back, at positions 3, 4, 5 (attending to 4, 5, 6).
        Assert.Equal((3L, 6L), (work.PrefillTokens, work.DecodeTokens));
        Assert.Equal(flops.Cached(3, 6, 1), work.PrefillFlops);
        Assert.Equal(flops.Cached(6, 2 * (4 + 5 + 6), 6), work.DecodeFlops);
    }

    [Fact]
    public void Training_counts_each_rows_real_tokens_and_nested_meters_pass_their_work_on()
    {
        using var model = TinyModels.Create(ModelFamily.Qwen2);
        var flops = ModelFlops.Of(model.Config);
        using var inputs = zeros(2, 5, int64);
        using var mask = tensor(new long[] { 1, 1, 1, 1, 1, 0, 0, 1, 1, 1 }).view(2, 5);
        using var outer = ComputeMeter.Start(new CostRates { PricePerHour = 1 });
        using (var inner = ComputeMeter.Start())
        {
            Assert.Same(inner, ComputeMeter.Current);
            Assert.Equal(1, inner.Rates.PricePerHour); // the enclosing run's rates
            ComputeMeter.Current!.Trained(model, inputs, mask);
            ComputeMeter.Current!.Forwarded(model, inputs, null);
            Assert.Equal((8L, flops.Training(5) + flops.Training(3)), (inner.Measure().Work.TrainingTokens, inner.Measure().Work.TrainingFlops));
        }
        Assert.Same(outer, ComputeMeter.Current);
        var work = outer.Measure().Work;
        Assert.Equal((8L, 10L), (work.TrainingTokens, work.ForwardTokens));
        Assert.Equal(flops.Training(5) + flops.Training(3) + 2 * flops.Forward(5), work.Flops);
    }

    [Fact]
    public void The_card_prices_wall_clock_energy_and_the_h100_at_its_rates()
    {
        var measured = new ComputeMeasurement(new ComputeWork(TrainingTokens: 10, TrainingFlops: 3.9576e15), WallSeconds: 7200, CpuSeconds: 3600, Gpu: false);
        var card = CostCard.From(measured, new CostRates { Watts = 10, PricePerHour = 0.5, H100Tflops = 989.4, H100Mfu = 0.4, H100PricePerHour = 2 });
        Assert.Equal(("cpu", 7200.0, 3600.0), (card.Device, card.WallSeconds, card.CpuCoreSeconds));
        Assert.Equal(1.0, card.Dollars, 12);       // 2 h × $0.5
        Assert.Equal(10.0, card.EnergyWh, 12);     // 10 W × 1 core-hour
        Assert.Equal(10.0, card.H100Seconds, 9);   // 3.9576e15 / (989.4e12 × 0.4)
        Assert.Equal(2.0 * 10 / 3600, card.H100Dollars, 12);
        Assert.Null(card.GpuSeconds);

        // Defaults by device: per core on a CPU (this machine's cores), per GPU-second on a GPU.
        var cpu = CostCard.From(measured, new CostRates());
        Assert.Equal(CostRates.DefaultPricePerCoreHour * Environment.ProcessorCount * 2, cpu.Dollars, 12);
        Assert.Equal(CostRates.DefaultWattsPerCore, cpu.EnergyWh, 12);
        var gpu = CostCard.From(measured with { Gpu = true }, new CostRates());
        Assert.Equal(("cuda", 7200.0), (gpu.Device, gpu.GpuSeconds));
        Assert.Equal(CostRates.DefaultWattsPerGpu * 2, gpu.EnergyWh, 9);
        Assert.Equal(CostRates.DefaultPricePerGpuHour * 2, gpu.Dollars, 12);

        Assert.Contains("| cost | $1.00 at $0.50 per machine-hour |", card.ToMarkdown());
        Assert.Equal(("$0.085", "$0.0017", "$8.4e-10", "$12.35"), (CostCard.Money(0.085), CostCard.Money(0.00171), CostCard.Money(8.4e-10), CostCard.Money(12.345)));
    }

    string NewModel()
    {
        string model = dir.File("model");
        if (!Directory.Exists(model)) Assert.Equal(0, CliApp.Run(["init", "--arch", "llama", "--preset", "tiny", "--out", model]));
        return model;
    }

    string Corpus()
    {
        string corpus = dir.File("corpus.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 50).Select(i => new JsonObject { ["text"] = $"{i}+{i}={2 * i}" }.ToJsonString()));
        return corpus;
    }

    JsonNode RunCost(string run) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir.File("runs"), run, RunFolder.RunInfoFile)))!["cost"]!;

    [Fact]
    public void Prices_and_watts_given_by_flag_or_cost_config_change_the_dollars_and_the_energy_not_the_flops()
    {
        string model = NewModel(), corpus = Corpus(), config = dir.File("train.json"), rates = dir.File("rates.json");
        File.WriteAllText(config, """{"max_steps": 2, "batch_size": 2, "max_seq_length": 16, "eval_steps": 0, "save_steps": 0}""");
        File.WriteAllText(rates, """{"price_per_hour": 3.6, "h100_mfu": 0.5}""");
        string[] Pretrain(string name) => ["pretrain", "--model", model, "--data", corpus, "--config", config, "--runs-dir", dir.File("runs"), "--name", name];
        Assert.Equal(0, CliApp.Run(Pretrain("cheap")));
        // The flag beats the file, which beats the defaults (h100_mfu from the file).
        Assert.Equal(0, CliApp.Run([.. Pretrain("dear"), "--cost-config", rates, "--price-per-hour", "36", "--watts", "50"]));
        JsonNode cheap = RunCost("cheap"), dear = RunCost("dear");

        Assert.Equal((double)cheap["flops"]!, (double)dear["flops"]!); // deterministic: the same work
        Assert.True((double)cheap["flops"]! > 0);
        Assert.Equal((CostRates.DefaultPricePerCoreHour * Environment.ProcessorCount, 5.0, 0.4),
            ((double)cheap["rates"]!["price_per_hour"]!, (double)cheap["rates"]!["watts"]!, (double)cheap["rates"]!["h100_mfu"]!));
        Assert.Equal((36.0, 50.0, 0.5), ((double)dear["rates"]!["price_per_hour"]!, (double)dear["rates"]!["watts"]!, (double)dear["rates"]!["h100_mfu"]!));
        foreach (var cost in new[] { cheap, dear })
        {
            var r = cost["rates"]!;
            Assert.Equal((double)r["price_per_hour"]! * (double)cost["wall_seconds"]! / 3600, (double)cost["dollars"]!, 12);
            Assert.Equal((double)r["watts"]! * (double)cost["cpu_core_seconds"]! / 3600, (double)cost["energy_wh"]!, 12);
        }
        Assert.Equal(0.4 / 0.5, (double)dear["h100_seconds"]! / (double)cheap["h100_seconds"]!, 9);
        Assert.Contains("## Cost", File.ReadAllText(Path.Combine(dir.File("runs"), "dear", RunFolder.ReportFile)));

        // A rate that cannot be is an error before anything runs.
        Assert.Equal(2, CliApp.Run([.. Pretrain("bad"), "--h100-mfu", "1.5"]));
        File.WriteAllText(rates, """{"price_per_hr": 1}""");
        Assert.Equal(2, CliApp.Run([.. Pretrain("typo"), "--cost-config", rates]));
        Assert.False(Directory.Exists(Path.Combine(dir.File("runs"), "typo")));
    }

    [Fact]
    public void Sample_writes_its_cost_into_the_summary_at_the_flags_rates()
    {
        string model = NewModel();
        string Sample(string name, string price)
        {
            string traces = dir.File(name + ".jsonl");
            Assert.Equal(0, CliApp.Run(["sample", "--model", model, "--task", "arithmetic", "--samples", "2", "--prompts", "3", "--max-tokens", "6",
                "--keep", "all", "--out", traces, "--price-per-hour", price]));
            return File.ReadAllText(dir.File(name + ".summary.json"));
        }
        var one = JsonNode.Parse(Sample("one", "1"))!["cost"]!;
        var ten = JsonNode.Parse(Sample("ten", "10"))!["cost"]!;
        Assert.True((long)one["work"]!["prefill_tokens"]! > 0 && (long)one["work"]!["decode_tokens"]! > 0);
        Assert.Equal((double)one["flops"]!, (double)ten["flops"]!);
        Assert.Equal((1.0, 10.0), ((double)one["rates"]!["price_per_hour"]!, (double)ten["rates"]!["price_per_hour"]!));
        Assert.Equal((double)ten["wall_seconds"]! * 10 / 3600, (double)ten["dollars"]!, 12);
    }

    [Fact]
    public void An_index_made_before_cost_cards_gets_the_column_and_keeps_its_runs()
    {
        string db = Path.Combine(dir.Path, RunStore.FileName);
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var create = connection.CreateCommand();
            create.CommandText = """
                CREATE TABLE runs (name TEXT PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
                    ended_at TEXT, final_metrics TEXT NOT NULL DEFAULT '{}', pid INTEGER NOT NULL DEFAULT 0);
                INSERT INTO runs VALUES ('old', 'sft', '/r/old', 'finished', '2026-01-01T00:00:00.0000000+00:00', NULL, '{}', 0);
                """;
            create.ExecuteNonQuery();
        }
        var store = new RunStore(dir.Path);
        Assert.Null(store.List().Single().Cost);
        var card = CostCard.From(new ComputeMeasurement(new ComputeWork(DecodeTokens: 1, DecodeFlops: 2e9), 3, 4, false), new CostRates());
        store.Upsert(store.List().Single() with { Cost = card });
        Assert.Equal(2e9, store.Find("old")!.Cost!.Flops);
    }
}
