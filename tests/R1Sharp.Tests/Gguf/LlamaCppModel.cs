using LLama;
using LLama.Common;
using LLama.Native;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// A GGUF file loaded by llama.cpp through LLamaSharp's low-level API. Token ids go in directly, so the
/// comparison with R1Sharp does not depend on either side's tokenizer.
/// </summary>
public sealed class LlamaCppModel : IDisposable
{
    static readonly object LogGate = new();
    static readonly List<string> Log = [];

    static LlamaCppModel()
    {
        // llama.cpp explains load failures only in its log; keep the log for assertion messages.
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

    public LlamaCppModel(string ggufPath, uint contextSize = 256)
    {
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = contextSize, BatchSize = contextSize, UBatchSize = contextSize, GpuLayerCount = 0,
            Threads = Math.Max(1, Environment.ProcessorCount), BatchThreads = Math.Max(1, Environment.ProcessorCount),
            // llama.cpp's default KV cache is F16; F32 keeps the comparison with R1Sharp's float32 exact to rounding.
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32, FlashAttention = false,
        };
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"llama.cpp could not load {ggufPath}: {e.Message}\n{RecentLog()}", e);
        }
        context = weights.CreateContext(parameters);
    }

    public int VocabSize => context.Vocab.Count;

    public IReadOnlyDictionary<string, string> Metadata => weights.Metadata;

    public static string RecentLog()
    {
        lock (LogGate) return string.Join("\n", Log.TakeLast(40));
    }

    /// <summary>Logits for the token after <paramref name="prompt"/>, starting from an empty cache.</summary>
    public float[] NextTokenLogits(IReadOnlyList<int> prompt)
    {
        context.NativeHandle.MemoryClear(true);
        return Decode(prompt, 0);
    }

    /// <summary>Greedy (argmax) continuation of <paramref name="prompt"/>, one decode per new token.</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int newTokens)
    {
        var logits = NextTokenLogits(prompt);
        var output = new int[newTokens];
        for (int i = 0; i < newTokens; i++)
        {
            output[i] = ArgMax(logits);
            if (i + 1 < newTokens) logits = Decode([output[i]], prompt.Count + i);
        }
        return output;
    }

    float[] Decode(IReadOnlyList<int> tokens, int startPosition)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
            batch.Add(tokens[i], startPosition + i, LLamaSeqId.Zero, logits: i == tokens.Count - 1);
        var result = context.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}\n{RecentLog()}");
        return context.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        context.Dispose();
        weights.Dispose();
    }
}
