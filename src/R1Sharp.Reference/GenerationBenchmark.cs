using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using R1Sharp.Benchmarks;
using R1Sharp.Checkpoints;
using R1Sharp.Generation;
using R1Sharp.Gguf;
using R1Sharp.Inference;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Reference;

/// <summary>What `r1 bench generate` measures and how; defaults are the issue's protocol.</summary>
public sealed record GenerationBenchmarkOptions
{
    /// <summary>A named shape (<see cref="BenchmarkShapes.All"/>) built with random weights; ignored when <see cref="ModelDir"/> is set.</summary>
    public string Shape { get; init; } = "25m";
    /// <summary>A model directory (config.json, weights, tokenizer.json) or GGUF file to measure instead of a named shape.</summary>
    public string? ModelDir { get; init; }
    /// <summary>
    /// The weights both engines run: F32 measures R1Sharp's live float32 model against llama.cpp on its f32 export;
    /// any other type is llama.cpp's own quantization of that export (llama-quantize), and R1Sharp runs the same file.
    /// A GGUF <see cref="ModelDir"/> is measured as it is.
    /// </summary>
    [JsonIgnore] public GgufDType DType { get; init; } = GgufDType.F32;
    /// <summary>CPU threads for both engines.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Prompt length of the prefill measurement.</summary>
    public int PrefillTokens { get; init; } = 512;
    /// <summary>Prompt length before the batch-1 decode measurement.</summary>
    public int DecodePromptTokens { get; init; } = 32;
    /// <summary>New tokens per sequence in the decode measurements.</summary>
    public int DecodeTokens { get; init; } = 128;
    /// <summary>Samples of one prompt decoded together.</summary>
    public int Samples { get; init; } = 16;
    /// <summary>Prompt length of the many-samples measurement.</summary>
    public int SamplesPromptTokens { get; init; } = 128;
    /// <summary>Each figure is the median of this many runs; the engines alternate so load from other processes hits both.</summary>
    public int Repeats { get; init; } = 3;
    public int Seed { get; init; }
    /// <summary>
    /// The vector width R1Sharp's CPU kernels run at (<see cref="SimdWidth.None"/>: the libtorch path); null keeps
    /// <see cref="SimdKernels.Active"/> (the widest this CPU runs, or R1SHARP_SIMD_WIDTH).
    /// </summary>
    public SimdWidth? Simd { get; init; }
    /// <summary>
    /// The weights R1Sharp's figures are measured with, each in the same runs (fp32, bf16: see
    /// <see cref="GenerationPrecision"/>); bf16 is left out, with a note, where the kernels cannot read the model as bf16
    /// (a quantized or GGUF model, no kernels). llama.cpp runs the GGUF file either way.
    /// </summary>
    [JsonIgnore] public IReadOnlyList<Precision> Precisions { get; init; } = [Precision.Fp32];
}

/// <summary>Tokens per second of one engine; decode figures count new tokens after the first (which the prefill produces).</summary>
public sealed record EngineFigures(double PrefillTokensPerSecond, double DecodeTokensPerSecond, double SamplesTokensPerSecond);

/// <summary>
/// One phase of R1Sharp's decode step: milliseconds per step, share of the step, and for the projections the
/// rate their weights stream at (the bound for batch-1 decode is memory bandwidth).
/// </summary>
public sealed record PhaseTime(string Phase, double MillisecondsPerStep, double Share, double? WeightGigabytesPerSecond);

/// <param name="SimdBits">The vector width R1Sharp's kernels ran at, in bits; 0 when it ran the libtorch path.</param>
/// <param name="FileBytes">Size of the GGUF file both engines ran.</param>
/// <param name="R1SharpResidentBytes">
/// How much R1Sharp's process grew in resident memory from before it loaded (for a shape: built) the model to the end of
/// a batch-1 decode, freed memory handed back to the system at both readings and llama.cpp not yet loaded: weights
/// (mapped pages it touched), KV cache, buffers — and anything a float model built for the export left behind, so an
/// upper bound for a shape. Null where /proc is missing.
/// </param>
/// <param name="R1SharpMappedResidentBytes">
/// Of that, the GGUF file's pages resident in R1Sharp's mapping of it (/proc/self/smaps): the weights as stored, read
/// in place. Null for a live float32 model (no mapping) or without /proc.
/// </param>
/// <param name="Simd">That width described, e.g. "256-bit (AVX2)".</param>
/// <param name="WidestSimdBits">The widest width this CPU runs the kernels at.</param>
/// <param name="R1Sharp">R1Sharp's figures with the first precision measured (fp32 unless only bf16 was asked for).</param>
/// <param name="Precisions">R1Sharp's figures per precision measured ("fp32", "bf16").</param>
/// <param name="Notes">What was not measured and why.</param>
public sealed record GenerationBenchmarkResult(
    string Model, long Parameters, int Threads, string Machine,
    [property: JsonPropertyName("simd_width")] int SimdBits, string Simd, [property: JsonPropertyName("widest_simd_width")] int WidestSimdBits,
    GenerationBenchmarkOptions Options, [property: JsonPropertyName("dtype")] string DType, long FileBytes,
    [property: JsonPropertyName("r1sharp_resident_bytes")] long? R1SharpResidentBytes,
    [property: JsonPropertyName("r1sharp_mapped_resident_bytes")] long? R1SharpMappedResidentBytes,
    [property: JsonPropertyName("r1sharp")] EngineFigures R1Sharp, EngineFigures LlamaCpp,
    IReadOnlyDictionary<string, EngineFigures> Precisions, IReadOnlyList<string> Notes,
    IReadOnlyList<PhaseTime>? DecodeProfile = null, IReadOnlyList<PhaseTime>? SamplesProfile = null)
{
    /// <summary>R1Sharp ÷ llama.cpp for prefill, batch-1 decode and many samples.</summary>
    public EngineFigures Ratios => new(R1Sharp.PrefillTokensPerSecond / LlamaCpp.PrefillTokensPerSecond,
        R1Sharp.DecodeTokensPerSecond / LlamaCpp.DecodeTokensPerSecond,
        R1Sharp.SamplesTokensPerSecond / LlamaCpp.SamplesTokensPerSecond);

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>
/// R1Sharp's generation engine against llama.cpp on the same model — a float32 model exported to GGUF, or one GGUF file
/// (llama.cpp's own quantization, or the user's) both engines read — in one process, with the same thread count:
/// prefill, batch-1 decode, and many samples of one prompt sharing its prefill.
/// </summary>
public static class GenerationBenchmark
{
    /// <summary>Pause between engines: idle worker threads of one (OpenMP, ggml) spin a while before they sleep.</summary>
    static readonly TimeSpan SwitchPause = TimeSpan.FromMilliseconds(300);

    public static GenerationBenchmarkResult Run(GenerationBenchmarkOptions options, Action<string>? log = null)
    {
        log ??= _ => { };
        if (options.Threads < 1) throw new R1Error($"threads must be >= 1, got {options.Threads}");
        foreach (var (name, value) in new[] { ("repeats", options.Repeats), ("prefill tokens", options.PrefillTokens), ("decode tokens", options.DecodeTokens),
                     ("decode prompt tokens", options.DecodePromptTokens), ("samples", options.Samples), ("samples prompt tokens", options.SamplesPromptTokens) })
            if (value < 1) throw new R1Error($"{name} must be >= 1, got {value}");
        if (options.DecodeTokens < 2) throw new R1Error($"decode tokens must be >= 2 (the first comes from the prefill), got {options.DecodeTokens}");
        set_num_threads(options.Threads);
        // Forced for the whole run and restored after it; unforced, this reads (and checks) R1SHARP_SIMD_WIDTH up front.
        using var simdScope = SimdKernels.Force(options.Simd ?? SimdKernels.Active);
        var simd = SimdKernels.Active;
        log($"R1Sharp's CPU kernels: {SimdKernels.Describe(simd)}");
        var work = Directory.CreateTempSubdirectory("r1-bench-generate-");
        try
        {
            int contextNeeded = Math.Max(options.PrefillTokens, Math.Max(options.DecodePromptTokens, options.SamplesPromptTokens) + options.DecodeTokens);
            var (model, name, gguf, residentBefore) = Prepare(options, work.FullName, log);
            using var _ = model;
            var c = model.Config;
            if (contextNeeded > c.MaxPositionEmbeddings)
                throw new R1Error($"{name}: the benchmark needs {contextNeeded} positions but the model's context is {c.MaxPositionEmbeddings}");

            var random = new Random(options.Seed);
            int[] Prompt(int length) => Enumerable.Range(0, length).Select(_ => random.Next(c.VocabSize)).ToArray();
            int[] prefillPrompt = Prompt(options.PrefillTokens), decodePrompt = Prompt(options.DecodePromptTokens), samplesPrompt = Prompt(options.SamplesPromptTokens);

            var notes = new List<string>();
            var precisions = options.Precisions.Distinct().Where(p =>
            {
                if (p == Precision.Auto) throw new ArgumentException("the benchmark measures fp32 and bf16, not auto", nameof(options));
                if (p != Precision.Bf16 || simd != SimdWidth.None && GenerationPrecision.Bf16Unavailable(model) is null) return true;
                notes.Add($"bf16 not measured: {(simd == SimdWidth.None ? "the libtorch path reads the parameters as they are" : GenerationPrecision.Bf16Unavailable(model))}");
                return false;
            }).ToList();
            if (precisions.Count == 0) throw new R1Error($"{name}: none of the precisions asked for can be measured here ({string.Join("; ", notes)})");
            var ours = new R1SharpRunner(model, options);
            var runner = ForwardRunner.For(model);
            log("warming up R1Sharp (and measuring its resident memory)");
            runner.WeightPrecision = precisions[0];
            ours.Decode(decodePrompt, Math.Min(options.DecodeTokens, 8));
            ReturnFreedMemory();
            long? resident = ResidentBytes() - residentBefore;
            long? mapped = model.IsPacked ? MappedResidentBytes(gguf) : null;
            // The other precision's warm-up takes its bf16 copies, which are then kept (the runs switch between them).
            foreach (var p in precisions.Skip(1))
            {
                runner.WeightPrecision = p;
                ours.Decode(decodePrompt, Math.Min(options.DecodeTokens, 8));
            }
            using var single = new LlamaCppModel(gguf, (uint)(contextNeeded + 1), options.Threads);
            // One KV stream per sequence (the prompt copied into each) measured faster than one shared stream, where every
            // query scans all sequences' cells.
            using var parallel = new LlamaCppModel(gguf, (uint)(options.Samples * (options.SamplesPromptTokens + options.DecodeTokens + 1)),
                options.Threads, (uint)options.Samples, unifiedCache: false);
            var theirs = new LlamaCppRunner(single, parallel, options);

            log("warming up llama.cpp");
            theirs.Decode(decodePrompt[..Math.Min(8, decodePrompt.Length)], 4);

            // Per figure, R1Sharp in each precision and then llama.cpp, so load from other processes hits them alike.
            var figures = precisions.Select(_ => new List<double>[] { [], [], [] }).ToList();
            var llamaFigures = new List<double>[] { [], [], [] };
            double Ours(Precision p, Func<double> measure)
            {
                runner.WeightPrecision = p;
                return Alternate(measure);
            }
            for (int run = 0; run < options.Repeats; run++)
            {
                log($"run {run + 1}/{options.Repeats}: prefill");
                for (int i = 0; i < precisions.Count; i++) figures[i][0].Add(Ours(precisions[i], () => ours.Prefill(prefillPrompt)));
                llamaFigures[0].Add(Alternate(() => theirs.Prefill(prefillPrompt)));
                log($"run {run + 1}/{options.Repeats}: batch-1 decode");
                for (int i = 0; i < precisions.Count; i++) figures[i][1].Add(Ours(precisions[i], () => ours.Decode(decodePrompt, options.DecodeTokens)));
                llamaFigures[1].Add(Alternate(() => theirs.Decode(decodePrompt, options.DecodeTokens)));
                log($"run {run + 1}/{options.Repeats}: {options.Samples} samples");
                for (int i = 0; i < precisions.Count; i++) figures[i][2].Add(Ours(precisions[i], () => ours.Samples(samplesPrompt)));
                llamaFigures[2].Add(Alternate(() => theirs.Samples(samplesPrompt)));
            }
            static EngineFigures Figures(List<double>[] f) => new(Median(f[0]), Median(f[1]), Median(f[2]));
            var perPrecision = precisions.Select((p, i) => (Name: SnakeCase.Name(p), Figures: Figures(figures[i]))).ToDictionary(x => x.Name, x => x.Figures);
            log($"profiling R1Sharp's decode steps ({SnakeCase.Name(precisions[0])} weights)");
            runner.WeightPrecision = precisions[0];
            // Which product path the quantized projections took: repacked panels (AVX-VNNI) or their stored rows.
            var packedMatrices = model.modules().OfType<Projection>().Select(p => p.Packed).OfType<PackedMatrix>().ToList();
            string kernels = SimdKernels.Describe(simd) + (packedMatrices.Count(QuantizedPanels.IsBuilt) is var repacked and > 0
                ? $"; {repacked} of {packedMatrices.Count} packed projections on repacked AVX-VNNI panels" : "")
                + (precisions.Contains(Precision.Bf16) && runner.Bf16PromptGemm ? $"; bf16 prompts of {Bf16Gemm.BlockRows}+ tokens on libtorch's bf16 GEMM (oneDNN)" : "");
            return new GenerationBenchmarkResult(name, ModelStats.Of(c).TotalParameters, options.Threads, MachineDescription(),
                (int)simd, kernels, (int)SimdKernels.Widest, options,
                GgufModelLoader.IsGgufFile(options.ModelDir ?? "") ? "as stored" : options.DType.ToString().ToLowerInvariant(), new FileInfo(gguf).Length, resident, mapped,
                perPrecision[SnakeCase.Name(precisions[0])], Figures(llamaFigures), perPrecision, notes,
                ours.Profile(decodePrompt, 1), ours.Profile(samplesPrompt, options.Samples));
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }

    static double Alternate(Func<double> measure)
    {
        Thread.Sleep(SwitchPause);
        return measure();
    }

    static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>
    /// The model R1Sharp runs and the GGUF file llama.cpp runs: a GGUF file as given; otherwise the folder or shape's
    /// float32 model exported to GGUF — kept live for F32, or quantized by llama.cpp and read back for other types
    /// (the float model freed first). ResidentBefore is the process's resident memory before R1Sharp's model was loaded
    /// or, for a shape or folder, built: whatever the float model and the export leave behind counts against R1Sharp.
    /// </summary>
    static (CausalLanguageModel Model, string Name, string Gguf, long? ResidentBefore) Prepare(GenerationBenchmarkOptions options, string work, Action<string> log)
    {
        if (options.ModelDir is { } path && GgufModelLoader.IsGgufFile(path))
        {
            if (options.DType != GgufDType.F32) throw new R1Error($"{path}: --dtype applies to a named shape or a model folder; a GGUF file is measured as stored");
            ReturnFreedMemory();
            long? before = ResidentBytes();
            log($"loading {path}");
            return (Checked(GgufModelLoader.LoadModel(GgufReader.Read(path)), path), Path.GetFileName(path), path, before);
        }
        ReturnFreedMemory();
        long? beforeFloat = ResidentBytes();
        var (model, name, tokenizerJson, tokenizerConfig) = LoadOrBuild(options, work, log);
        string f32 = Path.Combine(work, "model-f32.gguf");
        try
        {
            Checked(model, name);
            log($"exporting {name} to GGUF (f32)");
            GgufExporter.Export(model, tokenizerJson, tokenizerConfig, f32, GgufDType.F32);
            if (options.DType == GgufDType.F32) return (model, name, f32, beforeFloat);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.Dispose();
        GC.Collect();
        string quantized = Path.Combine(work, $"model-{options.DType.ToString().ToLowerInvariant()}.gguf");
        log($"quantizing to {options.DType} with llama.cpp's quantizer");
        LlamaCppQuantizer.Quantize(f32, quantized, options.DType, options.Threads);
        File.Delete(f32);
        return (GgufModelLoader.LoadModel(GgufReader.Read(quantized)), $"{name} {options.DType}", quantized, beforeFloat);
    }

    static CausalLanguageModel Checked(CausalLanguageModel model, string name)
    {
        model.eval();
        return model;
    }

    /// <summary>
    /// Hands freed memory back to the system before a reading: the managed heap's (an aggressive collection decommits
    /// what it no longer uses; a plain one keeps it for reuse, which hid part of the model's growth) and the C heap's
    /// (glibc's malloc_trim; nothing elsewhere).
    /// </summary>
    static void ReturnFreedMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    /// <summary>Resident bytes of this process's mappings of <paramref name="path"/> (/proc/self/smaps), or null without /proc.</summary>
    static long? MappedResidentBytes(string path)
    {
        try
        {
            string full = Path.GetFullPath(path);
            long total = 0;
            bool inFile = false;
            foreach (string line in File.ReadLines("/proc/self/smaps"))
            {
                // A mapping's header: "start-end perms offset dev inode [path]"; its fields follow as "Name: value kB".
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 0 && fields[0].Contains('-') && !fields[0].EndsWith(':'))
                    inFile = fields.Length == 6 && fields[5].Trim() == full;
                else if (inFile && fields.Length >= 2 && fields[0] == "Rss:")
                    total += long.Parse(fields[1]) * 1024;
            }
            return total;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>This process's resident set (VmRSS), or null without /proc.</summary>
    static long? ResidentBytes()
    {
        try
        {
            string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:"));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    static (CausalLanguageModel Model, string Name, string TokenizerJson, string? TokenizerConfig) LoadOrBuild(
        GenerationBenchmarkOptions options, string work, Action<string> log)
    {
        if (options.ModelDir is { } dir)
        {
            log($"loading {dir}");
            var loaded = ModelCheckpoint.Load(dir);
            return (loaded, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))),
                Path.Combine(dir, "tokenizer.json"), Path.Combine(dir, "tokenizer_config.json"));
        }
        if (!BenchmarkShapes.All.TryGetValue(options.Shape, out var shape))
            throw new R1Error($"unknown benchmark shape '{options.Shape}' (expected {string.Join(", ", BenchmarkShapes.All.Keys)})");
        log($"building the {options.Shape} model");
        // The byte-level tokenizer's ids fit in any vocab; the rest of the vocab exports as unused tokens.
        var tokenizer = new ByteTokenizer();
        tokenizer.Save(work);
        manual_seed(options.Seed);
        var model = new CausalLanguageModel(shape with { BosTokenId = tokenizer.BosId, EosTokenIds = tokenizer.EosId is int e ? [e] : [] });
        return (model, options.Shape, Path.Combine(work, "tokenizer.json"), Path.Combine(work, "tokenizer_config.json"));
    }

    static string MachineDescription()
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"{cpu}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
    }

    /// <summary>Times R1Sharp's <see cref="GenerationEngine"/> as a caller uses it.</summary>
    sealed class R1SharpRunner(CausalLanguageModel model, GenerationBenchmarkOptions options)
    {
        readonly GenerationEngine engine = new(model);
        readonly ForwardRunner forward = ForwardRunner.For(model);

        public double Prefill(int[] prompt)
        {
            var clock = Stopwatch.StartNew();
            engine.Generate([new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 1 })]);
            return prompt.Length / clock.Elapsed.TotalSeconds;
        }

        public double Decode(int[] prompt, int newTokens) =>
            NewTokensPerSecond(new GenerationRequest(prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = newTokens }));

        public double Samples(int[] prompt) => NewTokensPerSecond(new GenerationRequest(prompt,
            new SamplingOptions { Temperature = 1.0, TopP = 1.0, MaxNewTokens = options.DecodeTokens, Seed = options.Seed }, options.Samples));

        /// <summary>
        /// Where a decode step's time goes: the kernels' phases, and the rest of the step (sampling, stop checks)
        /// as "sampling and engine". Null when the model does not run on the CPU kernels.
        /// </summary>
        public IReadOnlyList<PhaseTime>? Profile(int[] prompt, int samples)
        {
            var profile = new InferenceProfile();
            var request = new GenerationRequest(prompt, new SamplingOptions
                { Temperature = samples == 1 ? 0 : 1.0, TopP = 1.0, MaxNewTokens = options.DecodeTokens, Seed = options.Seed }, samples);
            var clock = new Stopwatch();
            var last = TimeSpan.Zero;
            engine.Generate([request], _ =>
            {
                if (!clock.IsRunning)
                {
                    forward.Profile = profile; // from the first decode step on; the prefill is not profiled
                    clock.Start();
                }
                last = clock.Elapsed;
            });
            forward.Profile = null;
            int steps = profile.Forwards;
            if (steps == 0) return null;
            double stepMs = last.TotalMilliseconds / steps;
            // Float weights are read as bf16 copies (2 bytes each) while the runner's precision is bf16.
            int floatBytes = forward.WeightPrecision == Precision.Bf16 ? 2 : sizeof(float);
            long Bytes(Projection p) => p.Packed is { } m ? (long)m.Rows * m.RowBytes : p.Weight!.NumberOfElements * floatBytes;
            long Sum(Func<DecoderLayer, long> bytes) => model.DecoderLayers.Sum(bytes);
            long? WeightBytes(InferencePhase phase) => phase switch
            {
                InferencePhase.QkvProjection => Sum(l => ((GroupedQueryAttention)l.Attention).Projections is var (q, k, v, _) ? Bytes(q) + Bytes(k) + Bytes(v) : 0),
                InferencePhase.OutputProjection => Sum(l => Bytes(((GroupedQueryAttention)l.Attention).Projections.O)),
                InferencePhase.GateUpProjection => Sum(l => ((SwiGluMlp)l.Mlp).Projections is var (g, u, _) ? Bytes(g) + Bytes(u) : 0),
                InferencePhase.DownProjection => Sum(l => Bytes(((SwiGluMlp)l.Mlp).Projections.Down)),
                InferencePhase.LmHead => model.OutputProjection is { } head ? Bytes(head)
                    : model.Embedding.Packed is { } e ? (long)e.Rows * e.RowBytes : (long)model.Config.VocabSize * model.Config.HiddenSize * floatBytes,
                _ => null,
            };
            var phases = Enum.GetValues<InferencePhase>().Where(p => p != InferencePhase.Embedding || profile[p] > TimeSpan.Zero).Select(p =>
            {
                double ms = profile[p].TotalMilliseconds / steps;
                return new PhaseTime(p.ToString(), ms, ms / stepMs, WeightBytes(p) is long bytes ? bytes / (ms / 1000) / 1e9 : null);
            }).ToList();
            double rest = stepMs - profile.Total.TotalMilliseconds / steps;
            phases.Add(new PhaseTime("SamplingAndEngine", rest, rest / stepMs, null));
            return phases;
        }

        /// <summary>New tokens after the first step over the time from the first token to the last (prefill excluded).</summary>
        double NewTokensPerSecond(GenerationRequest request)
        {
            var clock = new Stopwatch();
            var last = TimeSpan.Zero;
            long tokens = 0;
            engine.Generate([request], _ =>
            {
                if (!clock.IsRunning) clock.Start();
                else tokens++;
                last = clock.Elapsed;
            });
            return (tokens - (request.NumSamples - 1)) / last.TotalSeconds;
        }
    }

    /// <summary>
    /// The same protocol on llama.cpp: prefill in one batch, greedy decode one token per call, and samples as
    /// parallel sequences that share the prompt's cache, drawn by llama.cpp's own sampler (its batched example's recipe).
    /// </summary>
    sealed class LlamaCppRunner(LlamaCppModel single, LlamaCppModel parallel, GenerationBenchmarkOptions options)
    {
        public double Prefill(int[] prompt)
        {
            var clock = Stopwatch.StartNew();
            single.Clear();
            LlamaCppModel.ArgMax(single.Append(prompt, 0));
            return prompt.Length / clock.Elapsed.TotalSeconds;
        }

        public double Decode(int[] prompt, int newTokens)
        {
            single.Clear();
            int token = LlamaCppModel.ArgMax(single.Append(prompt, 0));
            var clock = Stopwatch.StartNew();
            for (int i = 1; i < newTokens; i++) token = LlamaCppModel.ArgMax(single.Append([token], prompt.Length + i - 1));
            return (newTokens - 1) / clock.Elapsed.TotalSeconds;
        }

        public double Samples(int[] prompt)
        {
            int n = options.Samples;
            parallel.Clear();
            parallel.Append(prompt, 0);
            using var sampler = LlamaCppModel.DistributionSampler((uint)options.Seed);
            var tokens = new int[n];
            for (int s = 0; s < n; s++) tokens[s] = parallel.Sample(sampler, prompt.Length - 1);
            parallel.ShareSequenceZero(n);
            var clock = Stopwatch.StartNew();
            for (int i = 1; i < options.DecodeTokens; i++)
            {
                parallel.AppendOnePerSequence(tokens, prompt.Length + i - 1);
                for (int s = 0; s < n; s++) tokens[s] = parallel.Sample(sampler, s);
            }
            return (double)n * (options.DecodeTokens - 1) / clock.Elapsed.TotalSeconds;
        }
    }
}
