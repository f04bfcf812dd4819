using LLama;
using LLama.Common;
using LLama.Native;

namespace R1Sharp.Reference;

/// <summary>
/// A GGUF file loaded by llama.cpp through LLamaSharp's low-level API: the independent check of our model math
/// (parity tests) and the speed bar (`r1 bench generate`). Token ids go in directly, so comparisons do not
/// depend on either side's tokenizer. The KV cache is F32 to match R1Sharp's float32.
/// </summary>
public sealed class LlamaCppModel : IDisposable
{
    static readonly Lock LogGate = new();
    static readonly List<string> Log = [];

    static LlamaCppModel()
    {
        // llama.cpp explains load failures only in its log; keep the tail for error messages.
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            lock (LogGate)
            {
                Log.Add($"[{level}] {message.TrimEnd()}");
                if (Log.Count > 200) Log.RemoveAt(0);
            }
        });
    }

    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly LLamaBatch batch = new();

    /// <param name="contextSize">KV cells in all (shared by every sequence).</param>
    /// <param name="threads">CPU threads for decoding and prompt processing; null uses every core.</param>
    /// <param name="sequences">How many sequences may live in the cache at once.</param>
    /// <param name="unifiedCache">
    /// One KV buffer shared by all sequences (each then sees <paramref name="contextSize"/> cells) rather than one per
    /// sequence (contextSize / sequences cells each); null leaves llama.cpp's default.
    /// </param>
    public LlamaCppModel(string ggufPath, uint contextSize = 256, int? threads = null, uint sequences = 1, bool? unifiedCache = null)
    {
        int n = threads ?? Environment.ProcessorCount;
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = contextSize, BatchSize = contextSize, UBatchSize = contextSize, GpuLayerCount = 0,
            Threads = n, BatchThreads = n, SeqMax = sequences, KVUnified = unifiedCache,
            // llama.cpp's default KV cache is F16; F32 keeps the comparison with R1Sharp's float32 exact to rounding.
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, FlashAttention = false,
        };
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception e)
        {
            throw new R1Error($"llama.cpp could not load {ggufPath}: {e.Message}\n{RecentLog()}");
        }
        context = weights.CreateContext(parameters);
    }

    public int VocabSize => context.Vocab.Count;

    public IReadOnlyDictionary<string, string> Metadata => weights.Metadata;

    /// <summary>
    /// Loads llama.cpp's native libraries, the log callback registered first: LLamaSharp refuses configuration once
    /// they are loaded, so everything here that calls llama.cpp outside a model (quantizer, ggml's block functions) loads it this way.
    /// </summary>
    public static void LoadNative() => NativeApi.llama_max_devices();

    public static string RecentLog()
    {
        lock (LogGate) return string.Join("\n", Log.TakeLast(40));
    }

    /// <summary>Forgets every sequence in the cache.</summary>
    public void Clear() => context.NativeHandle.MemoryClear(true);

    /// <summary>Logits for the token after <paramref name="prompt"/>, starting from an empty cache.</summary>
    public float[] NextTokenLogits(IReadOnlyList<int> prompt)
    {
        Clear();
        return Append(prompt, 0).ToArray();
    }

    /// <summary>Greedy (argmax) continuation of <paramref name="prompt"/>, one decode per new token.</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int newTokens)
    {
        var logits = NextTokenLogits(prompt);
        var output = new int[newTokens];
        for (int i = 0; i < newTokens; i++)
        {
            output[i] = ArgMax(logits);
            if (i + 1 < newTokens) logits = Append([output[i]], prompt.Count + i).ToArray();
        }
        return output;
    }

    /// <summary>
    /// Appends <paramref name="tokens"/> at <paramref name="startPosition"/> of <paramref name="sequence"/>; returns the
    /// logits after the last one (a view valid until the next decode).
    /// </summary>
    public Span<float> Append(IReadOnlyList<int> tokens, int startPosition, int sequence = 0)
    {
        batch.Clear();
        for (int i = 0; i < tokens.Count; i++)
            batch.Add(tokens[i], startPosition + i, (LLamaSeqId)sequence, logits: i == tokens.Count - 1);
        Decode();
        return context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
    }

    /// <summary>
    /// llama-perplexity's score of <paramref name="ids"/>: windows of <paramref name="ctx"/> tokens from an empty cache,
    /// the first token replaced by <paramref name="bos"/> when given, token j + 1 scored from the logits at j for j in
    /// [ctx/2, ctx − 1); returns (perplexity, tokens scored). The context must hold <paramref name="ctx"/> tokens.
    /// </summary>
    public (double Perplexity, int Scored) Perplexity(IReadOnlyList<int> ids, int ctx, int? bos)
    {
        double nll = 0;
        int scored = 0;
        for (int w = 0; w < ids.Count / ctx; w++)
        {
            var window = ids.Skip(w * ctx).Take(ctx).ToArray();
            if (bos is int b) window[0] = b;
            Clear();
            batch.Clear();
            for (int i = 0; i < ctx; i++) batch.Add(window[i], i, (LLamaSeqId)0, logits: i >= ctx / 2);
            Decode();
            for (int j = ctx / 2; j < ctx - 1; j++)
            {
                var logits = context.NativeHandle.GetLogitsIth(j);
                double max = double.NegativeInfinity, sum = 0;
                foreach (float l in logits) max = Math.Max(max, l);
                foreach (float l in logits) sum += Math.Exp(l - max);
                nll += max + Math.Log(sum) - logits[window[j + 1]];
                scored++;
            }
        }
        return (Math.Exp(nll / scored), scored);
    }

    /// <summary>Makes sequences 1..<paramref name="count"/>-1 share sequence 0's cache (a prompt prefilled once).</summary>
    public void ShareSequenceZero(int count)
    {
        for (int s = 1; s < count; s++) context.NativeHandle.MemorySequenceCopy((LLamaSeqId)0, (LLamaSeqId)s, -1, -1);
    }

    /// <summary>One step of parallel decoding: token i goes to sequence i at <paramref name="position"/>; batch entry i gets logits.</summary>
    public void AppendOnePerSequence(ReadOnlySpan<int> tokens, int position)
    {
        batch.Clear();
        for (int s = 0; s < tokens.Length; s++) batch.Add(tokens[s], position, (LLamaSeqId)s, logits: true);
        Decode();
    }

    /// <summary>llama.cpp's own sampler chain drawing from softmax(logits) (temperature 1), seeded.</summary>
    public static SafeLLamaSamplerChainHandle DistributionSampler(uint seed)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        chain.AddDistributionSampler(seed);
        return chain;
    }

    /// <summary>A token drawn by <paramref name="sampler"/> from the logits of batch entry <paramref name="batchIndex"/> of the last decode.</summary>
    public int Sample(SafeLLamaSamplerChainHandle sampler, int batchIndex) => (int)sampler.Sample(context.NativeHandle, batchIndex);

    void Decode()
    {
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok) throw new R1Error($"llama_decode failed: {result}\n{RecentLog()}");
    }

    /// <summary>The first index of the largest value.</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(values);

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
