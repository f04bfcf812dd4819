using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// y = x·Wᵀ (+ b): nn.Linear's math, initialisation and parameter names ("weight", "bias"), with one more way to hold
/// the weight: a <see cref="PackedMatrix"/> (a GGUF file's quantized rows, memory-mapped), which the CPU kernels read
/// as stored and the libtorch path dequantizes per call. A packed projection is for inference only: it has no
/// "weight" parameter to train or save.
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    Parameter? weight;
    readonly Parameter? bias;
    readonly long inFeatures, outFeatures;

    public Projection(long inFeatures, long outFeatures, bool hasBias) : base(nameof(Projection))
    {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        if (!WeightStorage.Deferred)
        {
            weight = new Parameter(empty(outFeatures, inFeatures));
            nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5)); // as nn.Linear, so a seed gives the models it gave before
        }
        if (hasBias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            bias = new Parameter(empty(outFeatures));
            if (!WeightStorage.Deferred) nn.init.uniform_(bias, -bound, bound);
        }
        RegisterComponents();
    }

    /// <summary>The float weight [out, in], or null when the weight is <see cref="Packed"/>.</summary>
    public Parameter? Weight => weight;
    public Parameter? Bias => bias;
    public PackedMatrix? Packed { get; private set; }
    public long InFeatures => inFeatures;
    public long OutFeatures => outFeatures;

    /// <summary>Gives a projection built without a weight (<see cref="WeightStorage.Defer"/>) its weight as packed rows.</summary>
    public void Pack(PackedMatrix matrix)
    {
        if (weight is not null || Packed is not null) throw new InvalidOperationException("only a projection built without weights can be packed, once");
        if (matrix.Rows != outFeatures || matrix.Columns != inFeatures)
            throw new R1Error($"a packed weight of [{matrix.Rows}, {matrix.Columns}] does not fit a projection of [{outFeatures}, {inFeatures}]");
        Packed = matrix;
    }

    /// <summary>Gives a projection built without a weight a float weight (a copy of <paramref name="values"/> [out, in]).</summary>
    public void Load(Tensor values)
    {
        if (weight is not null || Packed is not null) throw new InvalidOperationException("only a projection built without weights can be loaded, once");
        if (!values.shape.SequenceEqual([outFeatures, inFeatures]))
            throw new R1Error($"a weight of [{string.Join(", ", values.shape)}] does not fit a projection of [{outFeatures}, {inFeatures}]");
        weight = new Parameter(values.to(float32).contiguous().clone(), requires_grad: false);
        register_parameter("weight", weight);
    }

    /// <summary>The weight as a float tensor: the parameter itself, or (packed) a dequantized copy owned by the caller's dispose scope.</summary>
    public Tensor DenseWeight() => weight ?? Packed?.ToTensor() ?? throw new InvalidOperationException("this projection has no weight yet");

    /// <summary>
    /// With packed weights, generation (no gradient, float32 on the CPU) multiplies on the CPU kernels
    /// (<see cref="Inference.PackedProducts"/>). Otherwise the input is rounded to 8-bit blocks first, as the integer kernels (and llama.cpp)
    /// quantize it, so this reference path computes the products the kernels compute (Q5_1's mins times the rounded
    /// Q8_1 block sums included).
    /// </summary>
    public override Tensor forward(Tensor x)
    {
        if (weight is not null) return nn.functional.linear(x, weight, bias);
        if (Inference.PackedProducts.Applies(x)) return Inference.PackedProducts.Multiply(Packed!, x, bias);
        using var scope = NewDisposeScope();
        int block = Quantization.GgmlQuants.ActivationBlock(Packed!.Type);
        var input = block > 0 ? Quantization.GgmlQuants.RoundActivations(x, block) : x;
        var output = nn.functional.linear(input, DenseWeight().to(x.dtype, x.device), bias);
        if (Packed.Type == Gguf.GgmlType.Q5_1)
        {
            // An explicit Scalar held to the end: the implicit one `+` makes could be finalized during the native call
            // in optimized code (TorchSharp 0.107), which libtorch reported as "Expected false to be true".
            using Scalar one = 1;
            output = output.add(matmul(Quantization.GgmlQuants.Q8_1SumCorrection(x), Packed.BlockMins().to(x.dtype, x.device).t()), one);
        }
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The token embedding [vocab, hidden] (HF's embed_tokens, nn.Embedding's init), whose table may be a
/// <see cref="PackedMatrix"/>: then each looked-up row is dequantized on its own, so a quantized embedding stays packed.
/// </summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    Parameter? weight;
    readonly long vocab, hidden;

    public TokenEmbedding(long vocab, long hidden) : base(nameof(TokenEmbedding))
    {
        this.vocab = vocab;
        this.hidden = hidden;
        if (!WeightStorage.Deferred)
        {
            weight = new Parameter(empty(vocab, hidden));
            nn.init.normal_(weight);
        }
        RegisterComponents();
    }

    public Parameter? Weight => weight;
    public PackedMatrix? Packed { get; private set; }

    public void Pack(PackedMatrix matrix)
    {
        if (weight is not null || Packed is not null) throw new InvalidOperationException("only an embedding built without weights can be packed, once");
        if (matrix.Rows != vocab || matrix.Columns != hidden)
            throw new R1Error($"a packed embedding of [{matrix.Rows}, {matrix.Columns}] does not fit [{vocab}, {hidden}]");
        Packed = matrix;
    }

    /// <summary>The table as a float tensor: the parameter, or (packed) a dequantized copy owned by the caller's dispose scope.</summary>
    public Tensor DenseWeight() => weight ?? Packed?.ToTensor() ?? throw new InvalidOperationException("this embedding has no weights yet");

    public override Tensor forward(Tensor ids)
    {
        // index_select, not index: index's backward adds rows with parallel atomic adds on CPU, so repeated tokens'
        // gradients summed in a different order each run; index_select's backward adds them in token order.
        if (weight is not null) return weight.index_select(0, ids.reshape(-1)).view([.. ids.shape, hidden]);
        var packed = Packed ?? throw new InvalidOperationException("this embedding has no weights yet");
        long[] flat = ids.cpu().to(int64).data<long>().ToArray();
        var rows = new float[flat.Length * hidden];
        for (int i = 0; i < flat.Length; i++)
        {
            if (flat[i] < 0 || flat[i] >= vocab) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {flat[i]} is outside the vocab of {vocab}");
            packed.DequantizeRows((int)flat[i], 1, rows.AsSpan((int)(i * hidden), (int)hidden));
        }
        return tensor(rows, [.. ids.shape, hidden]).to(ids.device);
    }
}

/// <summary>
/// Builds models whose projections and embedding get no float weights at construction, because they will be packed
/// or loaded from a file (<see cref="Projection.Pack"/>): a 1.5B model read from a 1 GB GGUF file never allocates its
/// 6 GB of float32 matrices. Model modules take only a <see cref="ModelConfig"/>, so this is said for the current thread.
/// </summary>
public static class WeightStorage
{
    [ThreadStatic] static bool deferred;

    internal static bool Deferred => deferred;

    /// <summary>Until disposed, models built on this thread leave their matrices empty.</summary>
    public static IDisposable Defer()
    {
        bool previous = deferred;
        deferred = true;
        return new Restore(previous);
    }

    sealed class Restore(bool previous) : IDisposable
    {
        public void Dispose() => deferred = previous;
    }
}
