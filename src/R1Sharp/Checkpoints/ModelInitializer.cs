using System.Text;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// `r1 init`: a randomly initialised model — a preset shape, or the shape of any supported HF config.json — saved with
/// its tokenizer in the HF layout. The weights are drawn and written tensor by tensor, in chunks, straight into
/// model.safetensors, so a 1.5B model needs a few hundred MB of memory, not its size; each tensor draws from its own
/// generator (seeded by the seed and the tensor's name), so the same seed gives the same file.
/// </summary>
public static class ModelInitializer
{
    /// <summary>Values drawn and written per chunk of a tensor (64 MB of float32).</summary>
    const long ChunkElements = 16L << 20;

    /// <param name="tokenizerPath">tokenizer.json or a folder with it; null writes the byte-level tokenizer.</param>
    /// <param name="force">Replace <paramref name="outDir"/> when it exists and is not empty (else an error).</param>
    public static ModelConfig Create(ModelFamily family, string preset, string outDir, int seed, string? tokenizerPath = null,
        string dtype = "float32", bool force = false) =>
        Write(vocab => ModelPresets.Create(family, preset, vocab), outDir, seed, tokenizerPath, dtype, force);

    /// <summary>
    /// Random weights at the shape of <paramref name="configPath"/> (an HF config.json of a supported family). Token ids
    /// (BOS, EOS, PAD) come from the tokenizer written beside it, whose vocab must fit the config's vocab_size.
    /// </summary>
    public static ModelConfig CreateFromConfig(string configPath, string outDir, int seed, string? tokenizerPath = null,
        string dtype = "float32", bool force = false)
    {
        var config = ModelConfig.Load(configPath);
        return Write(vocab => vocab <= config.VocabSize ? config
                : throw new R1Error($"{configPath}: vocab_size {config.VocabSize} is smaller than the tokenizer's {vocab} tokens"),
            outDir, seed, tokenizerPath, dtype, force);
    }

    static ModelConfig Write(Func<int, ModelConfig> shape, string outDir, int seed, string? tokenizerPath, string dtype, bool force)
    {
        // Everything is checked before anything is written, and the folder appears whole or not at all.
        var target = ModelCheckpoint.ParseDtype(dtype);
        HfTokenizer? loaded = tokenizerPath is null ? null : TokenizerLoader.Load(tokenizerPath);
        ITextTokenizer tokenizer = loaded ?? (ITextTokenizer)new ByteTokenizer();
        var config = (shape(tokenizer.VocabSize) with
        {
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosId is int eos ? [eos] : [],
            PadTokenId = tokenizer.PadId,
            TorchDtype = dtype,
        }).Validate();
        if (File.Exists(outDir)) throw new R1Error($"{outDir}: is a file; --out needs a folder");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !force)
            throw new R1Error($"{outDir}: folder exists and is not empty; pass --force to replace it");
        var tensors = ModelStats.ExpectedShapes(config).ToDictionary(kv => kv.Key, kv =>
        {
            var type = ModelCheckpoint.StoredType(kv.Key, target);
            return new SafeTensorsFile.PendingTensor(kv.Value, type, stream => WriteRandom(kv.Key, kv.Value, type, config.InitializerRange, seed, stream));
        });

        AtomicFile.WriteDirectory(outDir, temp =>
        {
            if (loaded is null) ((ByteTokenizer)tokenizer).Save(temp);
            else TokenizerLoader.Save(temp, loaded.Definition, loaded.Config ?? TokenizerConfig.ForOwnTokenizers);
            ModelCheckpoint.SaveConfigs(config, temp);
            SafeTensorsFile.Save(Path.Combine(temp, HfWeights.SingleFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        });
        return config;
    }

    /// <summary>One tensor's initial values (<see cref="CausalLanguageModel.Initialize"/>), drawn and written a block of rows at a time.</summary>
    static void WriteRandom(string name, long[] shape, ScalarType type, double range, int seed, Stream stream)
    {
        using var generator = new Generator(TensorSeed(seed, name));
        long rows = shape[0], rowElements = shape.Skip(1).Aggregate(1L, (n, d) => n * d);
        long rowsPerChunk = Math.Max(1, ChunkElements / Math.Max(1, rowElements));
        for (long start = 0; start < rows; start += rowsPerChunk)
        {
            using var scope = NewDisposeScope();
            var chunk = empty([Math.Min(rowsPerChunk, rows - start), .. shape[1..]], ScalarType.Float32);
            CausalLanguageModel.Initialize(name, chunk, range, generator);
            SafeTensorsFile.WriteBytes(chunk.to(type), stream);
        }
    }

    /// <summary>The seed of one tensor's generator: the run's seed and an FNV-1a hash of the name (stable across runs, unlike string.GetHashCode).</summary>
    static ulong TensorSeed(int seed, string name)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(name)) hash = (hash ^ b) * 1099511628211;
        return hash ^ ((ulong)(uint)seed * 0x9E3779B97F4A7C15);
    }
}
