using System.Runtime.InteropServices;
using R1Sharp.Model;
using R1Sharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace R1Sharp.Inference;

/// <summary>
/// The cached forward pass of a llama/qwen2/qwen3 model in C# kernels over the model's live float32 parameters, for
/// prefill and decode on CPU. libtorch pays microseconds of dispatch per op and its matrix-vector product reads
/// tall weights at half the memory bandwidth; here a layer is five parallel regions (q/k/v in one, o, gate/up in
/// one, down, attention) plus row-wise norms and rotations, with activations in reused native buffers and keys
/// written into the <see cref="KvCache"/> in place. Results equal the libtorch path to float32 rounding.
/// </summary>
sealed unsafe class CpuInference(CausalLanguageModel model)
{
    /// <summary>One layer's parameters, gathered (and checked) before any work starts: float32 addresses or packed rows.</summary>
    struct LayerWeights
    {
        public float* InputNorm, PostNorm, QBias, KBias, VBias, OBias, QNorm, KNorm;
        public Matrix Q, K, V, O, Gate, Up, Down;
    }

    /// <summary>A weight matrix as the kernels read it: a float32 parameter's address, packed rows, or the parameter's bfloat16 copy.</summary>
    readonly struct Matrix(float* dense, PackedMatrix? packed, Bf16Matrix? bf16 = null)
    {
        public readonly float* Dense = dense;
        public readonly PackedMatrix? Packed = packed;
        public readonly Bf16Matrix? Bf16 = bf16;

        public LinearSegment Segment(float* bias, int n, int column) => Bf16 is null ? new(Dense, Packed, bias, n, column) : new(null, null, bias, n, column, Bf16);
    }

    readonly ModelConfig config = model.Config;
    readonly Lock gate = new();
    readonly NativeBuffer hidden = new(), normed = new(), qkv = new(), attended = new(), gateUp = new(), activated = new();
    readonly WorkerBuffers scores = new();
    readonly LinearJob linear = new();
    readonly Bf16Gemm gemm = new();
    // The sequences of this forward whose products run on the bf16 GEMM (ascending).
    readonly List<int> gemmSequences = [];
    readonly RmsNormJob norm = new();
    readonly RopeAndCacheJob rope = new();
    readonly AttentionJob attention = new();
    readonly SwiGluJob swiGlu = new();
    readonly LoraProducts lora = new();
    // The parameter tensors of this forward (scratch), the addresses seen last and the per-layer view of them.
    readonly List<Tensor?> current = [];
    readonly List<PackedMatrix?> currentPacked = [];
    IntPtr[] addresses = [];
    PackedMatrix?[] packedMatrices = [];
    (int Rows, int Columns)[] shapes = [];
    LayerWeights[] layers = [];
    // bfloat16 copies of the linear weights (index as addresses), once WeightPrecision has been bf16, and the weights
    // version they were taken at (-1: none, or of other tensors).
    Bf16Matrix?[] bf16Copies = [], layersCopies = [];
    long copiedVersion = -1;
    readonly Bf16FillJob fill = new();

    /// <summary>
    /// The weights the projections and the output head read: the float32 parameters, or (<see cref="Precision.Bf16"/>)
    /// bfloat16 copies of them, taken at the first forward and again after <see cref="WeightsVersion"/> changes. The
    /// embedding rows (gathered, one per token), norms and biases stay float32.
    /// </summary>
    public Precision WeightPrecision { get; set; } = Precision.Fp32;

    /// <summary>
    /// With bf16 weights, whether a sequence with at least <see cref="Bf16Gemm.BlockRows"/> new tokens (a prompt) has its
    /// products on libtorch's bf16 GEMM (<see cref="Bf16Gemm"/>) rather than on the kernels.
    /// </summary>
    public bool Bf16PromptGemm { get; set; } = Bf16Gemm.Available;

    /// <summary>Bumped by whoever changes the parameters in place (an optimizer step, a weight reload): bf16 copies are retaken.</summary>
    public long WeightsVersion { get; set; }

    /// <summary>When set, every forward charges its time to phases here.</summary>
    public InferenceProfile? Profile { get; set; }

    /// <summary>
    /// True when the kernels can run this model: a SIMD width to run at (<see cref="SimdKernels.Active"/>), a GQA family,
    /// float32 on CPU, no gradients wanted.
    /// </summary>
    public static bool Supports(CausalLanguageModel model, KvCache cache) =>
        SimdKernels.Active != SimdWidth.None && !model.Config.IsMla && model.Device.type == DeviceType.CPU
        && !is_grad_enabled() && cache.DType == ScalarType.Float32 && cache.Device.type == DeviceType.CPU
        && model.FinalNormWeight.dtype == ScalarType.Float32;

    /// <summary>
    /// The cached forward of <see cref="CausalLanguageModel.Forward(Tensor, Tensor, Tensor?, KvCache, bool)"/> in C# kernels, writing
    /// logits into <paramref name="logits"/> ([B, vocab], or [B, T, vocab] for <paramref name="allPositions"/>), with the
    /// low-rank updates of <paramref name="adapter"/> when one is given (<see cref="LoraProducts"/>).
    /// </summary>
    public void Forward(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, bool allPositions, Tensor logits, LoraAdapter? adapter = null)
    {
        lock (gate)
        {
            var profile = Profile;
            profile?.Start();
            int b = (int)inputIds.size(0), t = (int)inputIds.size(1), past = cache.Length;
            CheckShapes(inputIds, positions, keyMask, cache, allPositions, logits, b, t, past);
            var workers = CpuWorkers.Shared(get_num_threads());
            var weights = GatherWeights(workers, out var embedding, out float* finalNorm, out var head);
            var simd = SimdKernels.Active;
            int rows = b * t, d = config.HiddenSize, heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads;
            int hd = config.GqaHeadDim, f = config.IntermediateSize, qkvWidth = (heads + 2 * kvHeads) * hd;
            float eps = (float)config.RmsNormEps;

            float* h = hidden.Get((long)rows * d);
            Embed(inputIds, embedding, h, b, t, d);
            using var ids = positions.dtype == ScalarType.Int64 ? null : positions.to(ScalarType.Int64);
            var positionTensor = ids ?? positions;
            long* pos = TensorMemory.Longs(positionTensor);
            long posRowStride = positionTensor.stride(0), posStride = positionTensor.stride(1);
            CheckPositions(pos, posRowStride, posStride, b, t);
            using var maskTensor = keyMask is null || keyMask.dtype is ScalarType.Int64 or ScalarType.Bool ? null : keyMask.to(ScalarType.Int64);
            var mask = Mask(maskTensor ?? keyMask);
            var (cos, sin) = model.RotaryTables;
            ChooseGemmSequences(weights, mask, b, t, past);
            profile?.Lap(InferencePhase.Embedding);

            float* xn = normed.Get((long)rows * d);
            float* q = qkv.Get((long)rows * qkvWidth);
            float* att = attended.Get((long)rows * heads * hd);
            float* gu = gateUp.Get((long)rows * 2 * f);
            float* act = activated.Get((long)rows * f);
            lora.Use(adapter, weights.Length);
            for (int l = 0; l < weights.Length; l++)
            {
                ref var w = ref weights[l];
                var (keys, values) = cache.Layer(l);
                norm.Run(workers, h, 0, 1, w.InputNorm, eps, xn, rows, d);
                profile?.Lap(InferencePhase.Norms);
                Product(workers, simd, xn, rows, d, d, q, qkvWidth, false, t,
                [
                    w.Q.Segment(w.QBias, heads * hd, 0),
                    w.K.Segment(w.KBias, kvHeads * hd, heads * hd),
                    w.V.Segment(w.VBias, kvHeads * hd, (heads + kvHeads) * hd),
                ]);
                lora.Add(workers, simd, l, xn, rows, d, d, q, qkvWidth,
                    [(LoraProducts.Projection.Q, 0), (LoraProducts.Projection.K, heads * hd), (LoraProducts.Projection.V, (heads + kvHeads) * hd)]);
                profile?.Lap(InferencePhase.QkvProjection);
                rope.Run(workers, simd, q, qkvWidth, b, t, pos, posRowStride, posStride, TensorMemory.Floats(cos), TensorMemory.Floats(sin),
                    heads, kvHeads, hd, w.QNorm, w.KNorm, eps, TensorMemory.Floats(keys), TensorMemory.Floats(values), past, cache.MaxLength);
                profile?.Lap(InferencePhase.RopeAndCacheWrite);
                attention.Run(workers, simd, q, qkvWidth, b, t, past, heads, kvHeads, hd, TensorMemory.Floats(keys), TensorMemory.Floats(values),
                    cache.MaxLength, mask, att, heads * hd, scores);
                profile?.Lap(InferencePhase.Attention);
                Product(workers, simd, att, rows, heads * hd, heads * hd, h, d, true, t, [w.O.Segment(w.OBias, d, 0)]);
                lora.Add(workers, simd, l, att, rows, heads * hd, heads * hd, h, d, [(LoraProducts.Projection.O, 0)]);
                profile?.Lap(InferencePhase.OutputProjection);
                norm.Run(workers, h, 0, 1, w.PostNorm, eps, xn, rows, d);
                profile?.Lap(InferencePhase.Norms);
                Product(workers, simd, xn, rows, d, d, gu, 2 * f, false, t, [w.Gate.Segment(null, f, 0), w.Up.Segment(null, f, f)]);
                lora.Add(workers, simd, l, xn, rows, d, d, gu, 2 * f, [(LoraProducts.Projection.Gate, 0), (LoraProducts.Projection.Up, f)]);
                profile?.Lap(InferencePhase.GateUpProjection);
                swiGlu.Run(workers, gu, act, rows, f);
                profile?.Lap(InferencePhase.SwiGlu);
                Product(workers, simd, act, rows, f, f, h, d, true, t, [w.Down.Segment(null, d, 0)]);
                lora.Add(workers, simd, l, act, rows, f, f, h, d, [(LoraProducts.Projection.Down, 0)]);
                profile?.Lap(InferencePhase.DownProjection);
            }
            cache.Advance(t);

            int outRows = allPositions ? rows : b;
            norm.Run(workers, h, allPositions ? 0 : t - 1, allPositions ? 1 : t, finalNorm, eps, xn, outRows, d);
            profile?.Lap(InferencePhase.Norms);
            Product(workers, simd, xn, outRows, d, d, TensorMemory.Floats(logits), config.VocabSize, false, allPositions ? t : 1,
                [head.Segment(null, config.VocabSize, 0)]);
            profile?.Lap(InferencePhase.LmHead);
        }
    }

    /// <summary>
    /// The sequences whose products take the bf16 GEMM: with bf16 copies in use, those with at least
    /// <see cref="Bf16Gemm.BlockRows"/> real new tokens. Decided per sequence from its own tokens, so a request takes the
    /// same path whatever it is batched with.
    /// </summary>
    void ChooseGemmSequences(LayerWeights[] weights, KeyMask mask, int b, int t, int past)
    {
        gemmSequences.Clear();
        if (!Bf16PromptGemm || t < Bf16Gemm.BlockRows || weights.Length == 0 || weights[0].Q.Bf16 is null) return;
        for (int i = 0; i < b; i++)
        {
            int real = t;
            if (!mask.IsEmpty)
                for (int j = 0; j < t; j++)
                    if (!mask.Allows(i, past + j)) real--;
            if (real >= Bf16Gemm.BlockRows) gemmSequences.Add(i);
        }
    }

    /// <summary>
    /// Y (+)= X · Wᵀ over <paramref name="rows"/> rows, <paramref name="rowsPerSequence"/> per sequence: the sequences
    /// chosen for the bf16 GEMM there (when a sequence has that many rows here), the rest on <see cref="LinearJob"/>.
    /// </summary>
    void Product(CpuWorkers workers, SimdWidth simd, float* x, int rows, int k, int ldx, float* y, int ldy, bool accumulate, int rowsPerSequence,
        ReadOnlySpan<LinearSegment> segments)
    {
        if (gemmSequences.Count == 0 || rowsPerSequence < Bf16Gemm.BlockRows)
        {
            linear.Run(workers, simd, x, rows, k, ldx, y, ldy, accumulate, segments);
            return;
        }
        int next = 0; // the first row not yet multiplied by the kernels
        foreach (int sequence in gemmSequences)
        {
            int first = sequence * rowsPerSequence;
            if (first > next) linear.Run(workers, simd, x + (long)next * ldx, first - next, k, ldx, y + (long)next * ldy, ldy, accumulate, segments);
            next = first + rowsPerSequence;
        }
        if (next < rows) linear.Run(workers, simd, x + (long)next * ldx, rows - next, k, ldx, y + (long)next * ldy, ldy, accumulate, segments);
        gemm.Run(workers, x, ldx, k, y, ldy, accumulate, segments, CollectionsMarshal.AsSpan(gemmSequences), rowsPerSequence);
    }

    void CheckShapes(Tensor inputIds, Tensor positions, Tensor? keyMask, KvCache cache, bool allPositions, Tensor logits, int b, int t, int past)
    {
        if (inputIds.dtype != ScalarType.Int64) throw new ArgumentException($"input ids must be int64, got {inputIds.dtype}");
        if (b != cache.BatchSize) throw new ArgumentException($"input ids have {b} rows but the KV cache has {cache.BatchSize}");
        if (past + t > cache.MaxLength) throw new InvalidOperationException($"KV cache overflow: {past} + {t} > {cache.MaxLength}");
        // Sizes are read one by one: Tensor.shape allocates, and this runs every decode step.
        if (positions.dim() != 2 || positions.size(0) != b || positions.size(1) != t)
            throw new ArgumentException($"positions must be [{b}, {t}], got [{string.Join(", ", positions.shape)}]");
        if (keyMask is not null && (keyMask.dim() != 2 || keyMask.size(0) != b || keyMask.size(1) != past + t))
            throw new ArgumentException($"key mask must be [{b}, {past + t}], got [{string.Join(", ", keyMask.shape)}]");
        bool logitsFit = allPositions
            ? logits.dim() == 3 && logits.size(0) == b && logits.size(1) == t && logits.size(2) == config.VocabSize
            : logits.dim() == 2 && logits.size(0) == b && logits.size(1) == config.VocabSize;
        if (!logitsFit || logits.dtype != ScalarType.Float32 || !logits.is_contiguous())
            throw new ArgumentException($"logits must be a contiguous float32 tensor of [{b}, {(allPositions ? $"{t}, " : "")}{config.VocabSize}]");
    }

    /// <summary>Copies (or dequantizes) each token's embedding row into the residual stream; ids are read in place (any strides).</summary>
    void Embed(Tensor inputIds, Matrix embedding, float* h, int b, int t, int d)
    {
        long* ids = TensorMemory.Longs(inputIds);
        long rowStride = inputIds.stride(0), stride = inputIds.stride(1);
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                long id = ids[i * rowStride + j * stride];
                if (id < 0 || id >= config.VocabSize) throw new ArgumentOutOfRangeException(nameof(inputIds), $"token id {id} is outside the vocab of {config.VocabSize}");
                var row = new Span<float>(h + (long)(i * t + j) * d, d);
                if (embedding.Packed is { } packed) packed.DequantizeRows((int)id, 1, row);
                else new ReadOnlySpan<float>(embedding.Dense + id * d, d).CopyTo(row);
            }
    }

    void CheckPositions(long* pos, long rowStride, long stride, int b, int t)
    {
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                long p = pos[i * rowStride + j * stride];
                if (p < 0 || p >= config.MaxPositionEmbeddings)
                    throw new ArgumentOutOfRangeException(nameof(pos), $"position {p} is outside the model's context of {config.MaxPositionEmbeddings}");
            }
    }

    static KeyMask Mask(Tensor? mask)
    {
        if (mask is null) return default;
        if (mask.stride(1) != 1) throw new ArgumentException("the key mask's last dimension must be contiguous");
        var data = mask.dtype == ScalarType.Int64 ? (byte*)TensorMemory.Longs(mask) : TensorMemory.Bytes(mask);
        return new KeyMask(data, mask.dtype == ScalarType.Int64 ? 8 : 1, mask.stride(0));
    }

    /// <summary>
    /// Every parameter's address. Addresses are read each forward (one native call per tensor) and checked (contiguous
    /// float32 CPU tensors) only when one changed: in-place updates such as optimizer steps keep them, a moved or
    /// converted parameter does not. Packed matrices (a GGUF file's rows) never change.
    /// </summary>
    LayerWeights[] GatherWeights(CpuWorkers workers, out Matrix embedding, out float* finalNorm, out Matrix head)
    {
        var (embed, final, lmHead) = model.InferenceWeights();
        current.Clear();
        currentPacked.Clear();
        void Add(Tensor? tensor, PackedMatrix? packed = null)
        {
            current.Add(tensor);
            currentPacked.Add(packed);
        }
        Add(embed.Weight, embed.Packed);
        Add(final);
        Add(lmHead is null ? embed.Weight : lmHead.Weight, lmHead is null ? embed.Packed : lmHead.Packed);
        var decoderLayers = model.DecoderLayers;
        for (int l = 0; l < decoderLayers.Count; l++)
        {
            var layer = decoderLayers[l];
            var attention = (GroupedQueryAttention)layer.Attention;
            var (q, k, v, o) = attention.Projections;
            var (qNorm, kNorm) = attention.QkNormWeights;
            var (g, u, down) = ((SwiGluMlp)layer.Mlp).Projections;
            Add(layer.InputNorm.Weight);
            Add(layer.PostAttentionNorm.Weight);
            Add(q.Weight, q.Packed);
            Add(k.Weight, k.Packed);
            Add(v.Weight, v.Packed);
            Add(o.Weight, o.Packed);
            Add(q.Bias);
            Add(k.Bias);
            Add(v.Bias);
            Add(o.Bias);
            Add(qNorm);
            Add(kNorm);
            Add(g.Weight, g.Packed);
            Add(u.Weight, u.Packed);
            Add(down.Weight, down.Packed);
        }
        bool same = current.Count == addresses.Length;
        for (int i = 0; same && i < addresses.Length; i++)
            same = (current[i] is { } t ? TensorMemory.Address(t) : IntPtr.Zero) == addresses[i] && ReferenceEquals(currentPacked[i], packedMatrices[i]);
        if (!same) Remember(current, currentPacked);
        current.Clear();
        currentPacked.Clear();
        // Copies stay while fp32 runs (a benchmark alternates), and are retaken when the weights changed meanwhile.
        bool wantCopies = WeightPrecision == Precision.Bf16;
        if (wantCopies && copiedVersion != WeightsVersion) CopyToBf16(workers);
        var active = wantCopies ? bf16Copies : [];
        if (!same || !ReferenceEquals(layersCopies, active)) BuildLayers(decoderLayers.Count, active);
        embedding = new Matrix((float*)addresses[0], packedMatrices[0]);
        finalNorm = (float*)addresses[1];
        head = new Matrix((float*)addresses[2], packedMatrices[2], Copy(active, 2));
        return layers;
    }

    /// <summary>Tensors gathered per layer, in <see cref="LayerWeights"/>' order (absent ones as null).</summary>
    const int PerLayer = 15;

    /// <summary>Checks and records the parameters' addresses, and asks for huge pages behind the large ones.</summary>
    void Remember(List<Tensor?> tensors, List<PackedMatrix?> packed)
    {
        addresses = tensors.Select(t => (IntPtr)(t is null ? null : Weight(t))).ToArray();
        packedMatrices = packed.ToArray();
        shapes = tensors.Select(t => t is not null && t.dim() == 2 ? ((int)t.size(0), (int)t.size(1)) : (0, 0)).ToArray();
        copiedVersion = -1; // other tensors: any bf16 copies are of the old ones
        for (int i = 0; i < tensors.Count; i++)
            if (tensors[i] is { } t && i != 0) HugePages.Advise(addresses[i], t.NumberOfElements * sizeof(float)); // the embedding is only gathered from
        if (addresses[0] == IntPtr.Zero && packedMatrices[0] is null) throw new InvalidOperationException("the model has no embedding weights");
    }

    /// <summary>Whether gathered tensor <paramref name="i"/> is a projection's or the output head's weight (what bf16 copies).</summary>
    static bool IsLinearWeight(int i) => i == 2 || i >= 3 && (i - 3) % PerLayer is >= 2 and <= 5 or >= 12 and <= 14;

    /// <summary>
    /// Rounds every float32 linear weight to its bfloat16 copy (on all workers; copies of an unchanged shape are reused).
    /// Packed weights stay as they are.
    /// </summary>
    void CopyToBf16(CpuWorkers workers)
    {
        var copies = new Bf16Matrix?[addresses.Length];
        for (int i = 0; i < addresses.Length; i++)
        {
            if (!IsLinearWeight(i) || addresses[i] == IntPtr.Zero) continue;
            var (rows, columns) = shapes[i];
            var copy = i < bf16Copies.Length && bf16Copies[i] is { } old && old.Rows == rows && old.Columns == columns ? old : new Bf16Matrix(rows, columns);
            fill.Run(workers, copy, (float*)addresses[i]);
            copies[i] = copy;
        }
        bf16Copies = copies;
        copiedVersion = WeightsVersion;
    }

    static Bf16Matrix? Copy(Bf16Matrix?[] copies, int i) => i < copies.Length ? copies[i] : null;

    /// <summary>The per-layer view of the recorded addresses, packed matrices and the bf16 <paramref name="copies"/> in use.</summary>
    void BuildLayers(int layerCount, Bf16Matrix?[] copies)
    {
        layersCopies = copies;
        layers = new LayerWeights[layerCount];
        for (int l = 0; l < layers.Length; l++)
        {
            float* A(int i) => (float*)addresses[3 + PerLayer * l + i];
            Matrix M(int i) => new(A(i), packedMatrices[3 + PerLayer * l + i], Copy(copies, 3 + PerLayer * l + i));
            layers[l] = new LayerWeights
            {
                InputNorm = A(0), PostNorm = A(1), Q = M(2), K = M(3), V = M(4), O = M(5),
                QBias = A(6), KBias = A(7), VBias = A(8), OBias = A(9), QNorm = A(10), KNorm = A(11), Gate = M(12), Up = M(13), Down = M(14),
            };
        }
    }

    static float* Weight(Tensor t)
    {
        if (t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new InvalidOperationException($"CPU kernels need contiguous float32 weights, got {t.dtype}");
        return TensorMemory.Floats(t);
    }
}
