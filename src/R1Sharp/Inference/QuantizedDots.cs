using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Quantization;

namespace R1Sharp.Inference;

/// <summary>
/// Dot products of a run of quantized weight rows (ggml blocks, as stored) with a tile of up to four activation rows
/// quantized to 8-bit blocks (<see cref="QuantizedActivations"/>), as llama.cpp computes them: integer products per
/// block, then one float scale per block (and the weights' offsets or mins times the activations' block sums). Each
/// weight row is unpacked once for all the activation rows of the tile, so a prefill decodes each block once per four tokens and a
/// decode step streams each block once. <see cref="Reference"/> is the scalar version the tests hold them to: the
/// integer sums are exact on both, so they differ only in the order floats are added.
/// </summary>
static unsafe class QuantizedDots
{
    /// <summary>Activation rows per tile.</summary>
    public const int TileRows = 4;

    /// <summary>The activation block size a weight type multiplies with: 256 (Q8_K) for K-quants, 32 (Q8_0) for the 32-blocks.</summary>
    public static int ActivationBlock(GgmlType type) => GgmlQuants.ActivationBlock(type);

    /// <summary>Whether a weight of this type has an integer kernel (else the engine converts its rows to float32).</summary>
    public static bool Supports(GgmlType type) => GgmlQuants.ActivationBlock(type) > 0;

    /// <summary>
    /// y[r·ldy + n] (+)= Σ_j W[n, j]·X[first + r, j] for weight rows n in [<paramref name="n0"/>, <paramref name="n1"/>)
    /// and r &lt; <paramref name="rows"/> (≤ <see cref="TileRows"/>), X the quantized activations. The tile's activation
    /// pointers are looked up once for the whole run of weight rows: a 1536-wide row is only six K-blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows<TVec>(PackedMatrix w, int n0, int n1, QuantizedActivations x, int first, int rows, float* y, long ldy, bool add)
        where TVec : struct
    {
        var tile = new Tile(x, first, rows);
        switch (rows)
        {
            case 1: Dispatch<TVec, One>(w, n0, n1, &tile, y, ldy, add); break;
            case 2: Dispatch<TVec, Two>(w, n0, n1, &tile, y, ldy, add); break;
            case 3: Dispatch<TVec, Three>(w, n0, n1, &tile, y, ldy, add); break;
            default: Dispatch<TVec, Four>(w, n0, n1, &tile, y, ldy, add); break;
        }
    }

    /// <summary>
    /// A tile's activation rows as the kernels read them: bytes, scales, sums of 16, Q8_1 block sums, and 16-bit sums —
    /// of 16 or of 32, as <c>pairsOf16</c> says — that <see cref="QuantizedPanels"/> reads in pairs (rows past the tile
    /// repeat its first; the kernels skip them).
    /// </summary>
    internal readonly struct Tile
    {
        public readonly sbyte* A0, A1, A2, A3;
        public readonly float* D0, D1, D2, D3;
        public readonly int* S0, S1, S2, S3;
        public readonly float* M0, M1, M2, M3;
        public readonly short* P0, P1, P2, P3;
        public readonly int Columns;

        public Tile(QuantizedActivations x, int first, int rows, bool pairsOf16 = false)
        {
            int r1 = first + (rows > 1 ? 1 : 0), r2 = first + (rows > 2 ? 2 : 0), r3 = first + (rows > 3 ? 3 : 0);
            A0 = x.Q(first); A1 = x.Q(r1); A2 = x.Q(r2); A3 = x.Q(r3);
            D0 = x.Scales(first); D1 = x.Scales(r1); D2 = x.Scales(r2); D3 = x.Scales(r3);
            S0 = x.Sums(first); S1 = x.Sums(r1); S2 = x.Sums(r2); S3 = x.Sums(r3);
            M0 = x.BlockSums(first); M1 = x.BlockSums(r1); M2 = x.BlockSums(r2); M3 = x.BlockSums(r3);
            P0 = pairsOf16 ? x.Sums16(first) : x.Sums32(first);
            P1 = pairsOf16 ? x.Sums16(r1) : x.Sums32(r1);
            P2 = pairsOf16 ? x.Sums16(r2) : x.Sums32(r2);
            P3 = pairsOf16 ? x.Sums16(r3) : x.Sums32(r3);
            Columns = x.Columns;
        }
    }

    /// <summary>How many activation rows a kernel instance handles: a type argument, so the JIT drops the unused rows' work.</summary>
    internal interface IRows { static abstract int N { get; } }
    internal struct One : IRows { public static int N => 1; }
    internal struct Two : IRows { public static int N => 2; }
    internal struct Three : IRows { public static int N => 3; }
    internal struct Four : IRows { public static int N => 4; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dispatch<TVec, TRows>(PackedMatrix w, int n0, int n1, Tile* t, float* y, long ldy, bool add)
        where TVec : struct where TRows : struct, IRows
    {
        var type = w.Type;
        // The 512-bit path covers Q8_0 and the K-quants; the 32-blocks with 4-bit levels (Q4_0, Q5_0, Q5_1: Q4_K_M's
        // and Q5_K_M's fallbacks for narrow rows) run the 256-bit kernels there.
        if (Int8Simd<TVec>.Count == 64 && type is GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1)
        {
            Dispatch<Vector256<byte>, TRows>(w, n0, n1, t, y, ldy, add);
            return;
        }
        switch (type)
        {
            case GgmlType.Q8_0: Q8_0<TVec, TRows>(w, n0, n1, t, y, ldy, add); break;
            case GgmlType.Q4_0: Q4_0<TVec, TRows>(w, n0, n1, t, y, ldy, add); break;
            case GgmlType.Q5_0: Q5<TVec, TRows>(w, n0, n1, t, y, ldy, add, withMin: false); break;
            case GgmlType.Q5_1: Q5<TVec, TRows>(w, n0, n1, t, y, ldy, add, withMin: true); break;
            case GgmlType.Q4_K or GgmlType.Q5_K:
                if (Int8Simd<TVec>.Count == 64) Q4_K512<TRows>(w, n0, n1, t, y, ldy, add, five: type == GgmlType.Q5_K);
                else if (Int8Simd<TVec>.Count == 32) Q4_K256<TRows>(w, n0, n1, t, y, ldy, add, five: type == GgmlType.Q5_K);
                else Q4_K<TVec, TRows>(w, n0, n1, t, y, ldy, add, five: type == GgmlType.Q5_K);
                break;
            case GgmlType.Q6_K:
                if (Int8Simd<TVec>.Count == 64) Q6_K512<TRows>(w, n0, n1, t, y, ldy, add);
                else Q6_K<TVec, TRows>(w, n0, n1, t, y, ldy, add);
                break;
            default: throw new InvalidOperationException($"no integer kernel for {type}");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q8_0<TVec, TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add) where TVec : struct where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            TVec f0 = default, f1 = default, f2 = default, f3 = default;
            int blocks = t->Columns / 32;
            if (Int8Simd<TVec>.Count == 64)
            {
                // Two blocks per vector. A last odd block gets zero weights in the upper half: the activation load then
                // reads 32 bytes past the row's bytes (its scales and sums, inside the buffer), which multiply zeros.
                for (int b = 0; b < blocks; b += 2, w += 2 * LegacyQuants.Q8_0Bytes)
                {
                    bool pair = b + 1 < blocks;
                    float d = NormalHalf(w), dNext = pair ? NormalHalf(w + LegacyQuants.Q8_0Bytes) : 0;
                    var q = Int8Simd<TVec>.Join(Vector256.Load(w + 2), pair ? Vector256.Load(w + LegacyQuants.Q8_0Bytes + 2) : Vector256<byte>.Zero);
                    int e = 32 * b;
                    f0 = Int8Simd<TVec>.MultiplyAdd(f0, Int8Simd<TVec>.DotSigned(default, q, Int8Simd<TVec>.Load(a0 + e)), d * d0[b], pair ? dNext * d0[b + 1] : 0);
                    if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, Int8Simd<TVec>.DotSigned(default, q, Int8Simd<TVec>.Load(a1 + e)), d * d1[b], pair ? dNext * d1[b + 1] : 0);
                    if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, Int8Simd<TVec>.DotSigned(default, q, Int8Simd<TVec>.Load(a2 + e)), d * d2[b], pair ? dNext * d2[b + 1] : 0);
                    if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, Int8Simd<TVec>.DotSigned(default, q, Int8Simd<TVec>.Load(a3 + e)), d * d3[b], pair ? dNext * d3[b + 1] : 0);
                }
                blocks = 0;
            }
            for (int b = 0; b < blocks; b++, w += LegacyQuants.Q8_0Bytes)
            {
                float d = NormalHalf(w);
                TVec i0 = default, i1 = default, i2 = default, i3 = default;
                for (int h = 0; h < 32; h += Int8Simd<TVec>.Count)
                {
                    var q = Int8Simd<TVec>.Load(w + 2 + h);
                    int e = 32 * b + h;
                    i0 = Int8Simd<TVec>.DotSigned(i0, q, Int8Simd<TVec>.Load(a0 + e));
                    if (TRows.N > 1) i1 = Int8Simd<TVec>.DotSigned(i1, q, Int8Simd<TVec>.Load(a1 + e));
                    if (TRows.N > 2) i2 = Int8Simd<TVec>.DotSigned(i2, q, Int8Simd<TVec>.Load(a2 + e));
                    if (TRows.N > 3) i3 = Int8Simd<TVec>.DotSigned(i3, q, Int8Simd<TVec>.Load(a3 + e));
                }
                f0 = Int8Simd<TVec>.MultiplyAdd(f0, i0, d * d0[b]);
                if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, i1, d * d1[b]);
                if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, i2, d * d2[b]);
                if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, i3, d * d3[b]);
            }
            Put(y + n, Int8Simd<TVec>.SumFloats(f0), add);
            if (TRows.N > 1) Put(y + ldy + n, Int8Simd<TVec>.SumFloats(f1), add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Int8Simd<TVec>.SumFloats(f2), add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Int8Simd<TVec>.SumFloats(f3), add);
        }
    }

    /// <summary>Q4_0: levels q in [0, 15], weight (q − 8)·d, so Σ = d·(Σ q·a − 8·Σ a).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_0<TVec, TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add) where TVec : struct where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            TVec f0 = default, f1 = default, f2 = default, f3 = default;
            float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
            for (int b = 0; b < t->Columns / 32; b++, w += LegacyQuants.Q4_0Bytes)
            {
                float d = NormalHalf(w);
                var packed = Vector128.Load(w + 2);
                var low = packed & Vector128.Create((byte)0x0F);
                var high = Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F);
                TVec i0 = default, i1 = default, i2 = default, i3 = default;
                for (int h = 0, part = 0; h < 32; h += Int8Simd<TVec>.Count, part++)
                {
                    var q = Int8Simd<TVec>.Join(low, high, part);
                    int e = 32 * b + h;
                    i0 = Int8Simd<TVec>.DotScaled(i0, q, Int8Simd<TVec>.Load(a0 + e), 1, 1);
                    if (TRows.N > 1) i1 = Int8Simd<TVec>.DotScaled(i1, q, Int8Simd<TVec>.Load(a1 + e), 1, 1);
                    if (TRows.N > 2) i2 = Int8Simd<TVec>.DotScaled(i2, q, Int8Simd<TVec>.Load(a2 + e), 1, 1);
                    if (TRows.N > 3) i3 = Int8Simd<TVec>.DotScaled(i3, q, Int8Simd<TVec>.Load(a3 + e), 1, 1);
                }
                f0 = Int8Simd<TVec>.MultiplyAdd(f0, i0, d * d0[b]);
                if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, i1, d * d1[b]);
                if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, i2, d * d2[b]);
                if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, i3, d * d3[b]);
                o0 += d * d0[b] * (s0[2 * b] + s0[2 * b + 1]);
                if (TRows.N > 1) o1 += d * d1[b] * (s1[2 * b] + s1[2 * b + 1]);
                if (TRows.N > 2) o2 += d * d2[b] * (s2[2 * b] + s2[2 * b + 1]);
                if (TRows.N > 3) o3 += d * d3[b] * (s3[2 * b] + s3[2 * b + 1]);
            }
            Put(y + n, Int8Simd<TVec>.SumFloats(f0) - 8 * o0, add);
            if (TRows.N > 1) Put(y + ldy + n, Int8Simd<TVec>.SumFloats(f1) - 8 * o1, add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Int8Simd<TVec>.SumFloats(f2) - 8 * o2, add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Int8Simd<TVec>.SumFloats(f3) - 8 * o3, add);
        }
    }

    /// <summary>
    /// Q5_0 (levels q in [0, 31], weight (q − 16)·d) and Q5_1 (weight q·d + m): the fifth bits come from a 32-bit mask,
    /// spread to bytes by broadcasting it and testing one bit per byte.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q5<TVec, TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add, bool withMin) where TVec : struct where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        float* m0 = t->M0, m1 = t->M1, m2 = t->M2, m3 = t->M3;
        int blockBytes = withMin ? LegacyQuants.Q5_1Bytes : LegacyQuants.Q5_0Bytes, qsAt = withMin ? 8 : 6, qhAt = withMin ? 4 : 2;
        var bitMask = Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            TVec f0 = default, f1 = default, f2 = default, f3 = default;
            float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
            for (int b = 0; b < t->Columns / 32; b++, w += blockBytes)
            {
                float d = NormalHalf(w);
                // Q5_0 subtracts 16 from every level; Q5_1 adds its min m to every weight.
                float offset = withMin ? NormalHalf(w + 2) : -16 * d;
                uint qh = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(w + qhAt, 4));
                var packed = Vector128.Load(w + qsAt);
                var bytes = Vector128.Create(qh).AsByte();
                // Byte i of the low half takes bit i of qh (bytes 0–1), of the high half bit 16 + i (bytes 2–3).
                var lowBits = Vector128.Shuffle(bytes, Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
                var highBits = Vector128.Shuffle(bytes, Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
                var fifth = Vector128.Create((byte)0x10);
                var low = (packed & Vector128.Create((byte)0x0F))
                          | (Vector128.Equals(lowBits & bitMask, bitMask) & fifth);
                var high = (Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F))
                           | (Vector128.Equals(highBits & bitMask, bitMask) & fifth);
                TVec i0 = default, i1 = default, i2 = default, i3 = default;
                for (int h = 0, part = 0; h < 32; h += Int8Simd<TVec>.Count, part++)
                {
                    var q = Int8Simd<TVec>.Join(low, high, part);
                    int e = 32 * b + h;
                    i0 = Int8Simd<TVec>.DotScaled(i0, q, Int8Simd<TVec>.Load(a0 + e), 1, 1);
                    if (TRows.N > 1) i1 = Int8Simd<TVec>.DotScaled(i1, q, Int8Simd<TVec>.Load(a1 + e), 1, 1);
                    if (TRows.N > 2) i2 = Int8Simd<TVec>.DotScaled(i2, q, Int8Simd<TVec>.Load(a2 + e), 1, 1);
                    if (TRows.N > 3) i3 = Int8Simd<TVec>.DotScaled(i3, q, Int8Simd<TVec>.Load(a3 + e), 1, 1);
                }
                f0 = Int8Simd<TVec>.MultiplyAdd(f0, i0, d * d0[b]);
                if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, i1, d * d1[b]);
                if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, i2, d * d2[b]);
                if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, i3, d * d3[b]);
                if (withMin)
                {
                    // Q5_1: the min times the activations' Q8_1 block sum, rounded as llama.cpp stores it.
                    o0 += offset * m0[b];
                    if (TRows.N > 1) o1 += offset * m1[b];
                    if (TRows.N > 2) o2 += offset * m2[b];
                    if (TRows.N > 3) o3 += offset * m3[b];
                }
                else
                {
                    o0 += offset * d0[b] * (s0[2 * b] + s0[2 * b + 1]);
                    if (TRows.N > 1) o1 += offset * d1[b] * (s1[2 * b] + s1[2 * b + 1]);
                    if (TRows.N > 2) o2 += offset * d2[b] * (s2[2 * b] + s2[2 * b + 1]);
                    if (TRows.N > 3) o3 += offset * d3[b] * (s3[2 * b] + s3[2 * b + 1]);
                }
            }
            Put(y + n, Int8Simd<TVec>.SumFloats(f0) + o0, add);
            if (TRows.N > 1) Put(y + ldy + n, Int8Simd<TVec>.SumFloats(f1) + o1, add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Int8Simd<TVec>.SumFloats(f2) + o2, add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Int8Simd<TVec>.SumFloats(f3) + o3, add);
        }
    }

    /// <summary>
    /// Q4_K and Q5_K: per 256-block, Σ = d·Σ_j sc_j·(Σ q·a over sub-block j) − dmin·Σ_j m_j·(Σ a over sub-block j), the
    /// first term in 32-bit integers across the whole block. Each 32 bytes of q hold sub-block 2k (low nibbles) and
    /// 2k + 1 (high nibbles); Q5_K's fifth bits for both are bits 2k and 2k + 1 of qh. This is the 128-bit version
    /// (and arm64's); x64 takes <see cref="Q4_K512{TRows}"/> or <see cref="Q4_K256{TRows}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_K<TVec, TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add, bool five) where TVec : struct where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        int blockBytes = five ? KQuants.Q5_KBytes : KQuants.Q4_KBytes;
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            TVec f0 = default, f1 = default, f2 = default, f3 = default;
            float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
            for (int b = 0; b < t->Columns / 256; b++, w += blockBytes)
            {
                float d = Half(w), dmin = Half(w + 2);
                var (scales, mins) = KQuants.ScalesMins(w + 4);
                byte* qh = w + 16, q = w + (five ? 48 : 16);
                TVec i0 = default, i1 = default, i2 = default, i3 = default;
                for (int k = 0; k < 4; k++)
                {
                    var lowBit = Int8Simd<TVec>.Broadcast((byte)(1 << (2 * k)));
                    var highBit = Int8Simd<TVec>.Broadcast((byte)(2 << (2 * k)));
                    short sl = (byte)(scales >> 16 * k), sh = (byte)(scales >> (16 * k + 8));
                    for (int h = 0; h < 32; h += Int8Simd<TVec>.Count)
                    {
                        var packed = Int8Simd<TVec>.Load(q + 32 * k + h);
                        var low = Int8Simd<TVec>.LowNibbles(packed);
                        var high = Int8Simd<TVec>.HighNibbles(packed);
                        if (five)
                        {
                            var bits = Int8Simd<TVec>.Load(qh + h);
                            low = Int8Simd<TVec>.Or(low, Int8Simd<TVec>.FifthBit(bits, lowBit));
                            high = Int8Simd<TVec>.Or(high, Int8Simd<TVec>.FifthBit(bits, highBit));
                        }
                        int e = 64 * k + h, e2 = e + 32;
                        i0 = Int8Simd<TVec>.DotScaled(i0, low, Int8Simd<TVec>.Load(a0 + 256 * b + e), sl, sl);
                        i0 = Int8Simd<TVec>.DotScaled(i0, high, Int8Simd<TVec>.Load(a0 + 256 * b + e2), sh, sh);
                        if (TRows.N > 1) i1 = Int8Simd<TVec>.DotScaled(i1, low, Int8Simd<TVec>.Load(a1 + 256 * b + e), sl, sl);
                        if (TRows.N > 1) i1 = Int8Simd<TVec>.DotScaled(i1, high, Int8Simd<TVec>.Load(a1 + 256 * b + e2), sh, sh);
                        if (TRows.N > 2) i2 = Int8Simd<TVec>.DotScaled(i2, low, Int8Simd<TVec>.Load(a2 + 256 * b + e), sl, sl);
                        if (TRows.N > 2) i2 = Int8Simd<TVec>.DotScaled(i2, high, Int8Simd<TVec>.Load(a2 + 256 * b + e2), sh, sh);
                        if (TRows.N > 3) i3 = Int8Simd<TVec>.DotScaled(i3, low, Int8Simd<TVec>.Load(a3 + 256 * b + e), sl, sl);
                        if (TRows.N > 3) i3 = Int8Simd<TVec>.DotScaled(i3, high, Int8Simd<TVec>.Load(a3 + 256 * b + e2), sh, sh);
                    }
                }
                f0 = Int8Simd<TVec>.MultiplyAdd(f0, i0, d * d0[b]);
                if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, i1, d * d1[b]);
                if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, i2, d * d2[b]);
                if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, i3, d * d3[b]);
                o0 += dmin * d0[b] * MinTerm(mins, s0 + 16 * b);
                if (TRows.N > 1) o1 += dmin * d1[b] * MinTerm(mins, s1 + 16 * b);
                if (TRows.N > 2) o2 += dmin * d2[b] * MinTerm(mins, s2 + 16 * b);
                if (TRows.N > 3) o3 += dmin * d3[b] * MinTerm(mins, s3 + 16 * b);
            }
            Put(y + n, Int8Simd<TVec>.SumFloats(f0) - o0, add);
            if (TRows.N > 1) Put(y + ldy + n, Int8Simd<TVec>.SumFloats(f1) - o1, add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Int8Simd<TVec>.SumFloats(f2) - o2, add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Int8Simd<TVec>.SumFloats(f3) - o3, add);
        }
    }

    /// <summary>*at = value, or *at += value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* at, float value, bool add) => *at = add ? *at + value : value;

    /// <summary>Σ_j m_j · (sum of sub-block j's 32 activations), from the sums of each 16 (min j in byte j of <paramref name="mins"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int MinTerm(ulong mins, int* sums16)
    {
        int total = 0;
        for (int j = 0; j < 8; j++) total += (byte)(mins >> 8 * j) * (sums16[2 * j] + sums16[2 * j + 1]);
        return total;
    }

    /// <summary>
    /// <see cref="Q4_K{TVec, TRows}"/> on 512-bit registers (AVX-512BW), llama.cpp's per-block work: the 32 bytes of q
    /// for sub-blocks 2k and 2k + 1 are loaded into both halves of a register and the upper half shifted by 4, so one
    /// register holds both sub-blocks' levels in activation order; the block's eight scales are widened to 16 bits once
    /// and each sub-block's picked by a byte shuffle; the mins term is a vector product with the activations' sums of 16.
    /// The four pairs are written out (<see cref="Q4_KPair{TRows}"/>) with their shuffle controls and fifth-bit masks
    /// made once per call: a loop over k cost a third of the block's instructions in counters and addresses.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_K512<TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add, bool five) where TRows : struct, IRows
    {
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        int blockBytes = five ? KQuants.Q5_KBytes : KQuants.Q4_KBytes, blocks = t->Columns / 256;
        // Shuffle controls: scale 2k (bytes 4k, 4k + 1 of each 128-bit lane) for the first 32 products, 2k + 1 for the rest.
        var pick0 = Vector512.Create(Vector256.Create((ushort)0x0100), Vector256.Create((ushort)0x0302)).AsByte();
        var shiftUpperHalf = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
        var pick1 = pick0 + Vector512.Create((byte)4);
        var pick2 = pick0 + Vector512.Create((byte)8);
        var pick3 = pick0 + Vector512.Create((byte)12);
        // Q5_K: pair k's fifth bits are bits 2k (first 32 values) and 2k + 1 of qh.
        var bits0 = Vector512.Create(Vector256.Create((byte)1), Vector256.Create((byte)2));
        var bits1 = Vector512.ShiftLeft(bits0.AsUInt16(), 2).AsByte();
        var bits2 = Vector512.ShiftLeft(bits0.AsUInt16(), 4).AsByte();
        var bits3 = Vector512.ShiftLeft(bits0.AsUInt16(), 6).AsByte();
        // Each min twice, as two sums of 16 make a sub-block's.
        var minPairs = Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w += blockBytes)
            {
                var dAndMin = TwoHalves(w);
                var (scaleBytes, minBytes) = KQuants.ScalesMins(w + 4);
                var scales8 = Vector128.WidenLower(Vector128.CreateScalar(scaleBytes).AsByte()).ToVector256Unsafe().ToVector512Unsafe().AsUInt32();
                var scales = Avx512F.Shuffle4x128(scales8, scales8, 0).AsByte(); // in every 128-bit lane
                var mins = Avx512F.ConvertToVector512Int32(Ssse3.Shuffle(Vector128.CreateScalar(minBytes).AsByte(), minPairs));
                byte* q = w + (five ? 48 : 16);
                var highBits = five ? Twice(w + 16) : default;
                Vector512<int> i0 = default, i1 = default, i2 = default, i3 = default;
                int e = 256 * b;
                Q4_KPair<TRows>(t, e, q, shiftUpperHalf, five, highBits, bits0, Avx512BW.Shuffle(scales, pick0).AsInt16(), ref i0, ref i1, ref i2, ref i3);
                Q4_KPair<TRows>(t, e + 64, q + 32, shiftUpperHalf, five, highBits, bits1, Avx512BW.Shuffle(scales, pick1).AsInt16(), ref i0, ref i1, ref i2, ref i3);
                Q4_KPair<TRows>(t, e + 128, q + 64, shiftUpperHalf, five, highBits, bits2, Avx512BW.Shuffle(scales, pick2).AsInt16(), ref i0, ref i1, ref i2, ref i3);
                Q4_KPair<TRows>(t, e + 192, q + 96, shiftUpperHalf, five, highBits, bits3, Avx512BW.Shuffle(scales, pick3).AsInt16(), ref i0, ref i1, ref i2, ref i3);
                f0 = K512Block(f0, i0, mins, s0 + 16 * b, dAndMin * d0[b]);
                if (TRows.N > 1) f1 = K512Block(f1, i1, mins, s1 + 16 * b, dAndMin * d1[b]);
                if (TRows.N > 2) f2 = K512Block(f2, i2, mins, s2 + 16 * b, dAndMin * d2[b]);
                if (TRows.N > 3) f3 = K512Block(f3, i3, mins, s3 + 16 * b, dAndMin * d3[b]);
            }
            Put(y + n, Vector512.Sum(f0), add);
            if (TRows.N > 1) Put(y + ldy + n, Vector512.Sum(f1), add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Vector512.Sum(f2), add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Vector512.Sum(f3), add);
        }
    }

    /// <summary>
    /// One pair of Q4_K/Q5_K sub-blocks (64 values from the 32 bytes at <paramref name="q"/>) against activations
    /// [e, e + 64) of each row of the tile: i += scale · (levels · a), summed in 32-bit lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Q4_KPair<TRows>(Tile* t, int e, byte* q, Vector512<ushort> shiftUpperHalf, bool five, Vector512<byte> highBits, Vector512<byte> fifthBit, Vector512<short> scale,
        ref Vector512<int> i0, ref Vector512<int> i1, ref Vector512<int> i2, ref Vector512<int> i3) where TRows : struct, IRows
    {
        var packed = Twice(q).AsUInt16();
        var levels = Avx512BW.ShiftRightLogicalVariable(packed, shiftUpperHalf).AsByte() & Vector512.Create((byte)0x0F);
        if (five) levels |= Vector512.Equals(highBits & fifthBit, fifthBit) & Vector512.Create((byte)0x10);
        i0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(t->A0 + e)), scale);
        if (TRows.N > 1) i1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(t->A1 + e)), scale);
        if (TRows.N > 2) i2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(t->A2 + e)), scale);
        if (TRows.N > 3) i3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(t->A3 + e)), scale);
    }

    /// <summary>
    /// The 32 bytes at <paramref name="at"/> in both halves of a register. Not Avx512F.BroadcastVector256ToVector512:
    /// with it, .NET 10's optimizing JIT gave wrong Q5_K and Q6_K products (reproduced outside R1Sharp: right with
    /// DOTNET_JITMinOpts=1, wrong without), which the kernel tests, then run unoptimized, did not see.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<byte> Twice(byte* at)
    {
        // One insert into the register the load filled (Vector512.Create(half, half) became two inserts, each depending
        // on the destination's old value).
        var half = Vector256.Load(at);
        return Avx512F.InsertVector256(half.ToVector512Unsafe(), half, 1);
    }

    /// <summary>The two halves at <paramref name="at"/> (a K-block's d and dmin) as floats in lanes 0 and 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> TwoHalves(byte* at) => HalvesToSingles(Sse41.ConvertToVector128Int32((ushort*)at).AsUInt32());

    /// <summary><see cref="K512Block(Vector512{float}, Vector512{int}, Vector512{int}, int*, float, float)"/> with the two scales in lanes 0 and 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> K512Block(Vector512<float> acc, Vector512<int> dots, Vector512<int> offsets, int* sums16, Vector128<float> scales) =>
        K512Block(acc, dots, offsets, sums16, scales.ToScalar(), scales.GetElement(1));

    /// <summary>acc + scale·dots − offsetScale·(offsets · sums of 16), lane by lane: a 256-block's two float terms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> K512Block(Vector512<float> acc, Vector512<int> dots, Vector512<int> offsets, int* sums16, float scale, float offsetScale)
    {
        acc = Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(dots), Vector512.Create(scale), acc);
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(offsets * Vector512.Load(sums16)), Vector512.Create(-offsetScale), acc);
    }

    /// <summary>
    /// <see cref="Q4_K512{TRows}"/> on 256-bit registers (AVX2): low and high nibbles of each 32 bytes of q in a register
    /// each, with sub-block 2k's and 2k + 1's scale picked from the block's widened scales by a byte shuffle.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_K256<TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add, bool five) where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        int blockBytes = five ? KQuants.Q5_KBytes : KQuants.Q4_KBytes;
        var nibble = Vector256.Create((byte)0x0F);
        var pickScale = Vector256.Create((ushort)0x0100).AsByte();
        var minPairs = Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < t->Columns / 256; b++, w += blockBytes)
            {
                float d = Half(w), dmin = Half(w + 2);
                var (scaleBytes, minBytes) = KQuants.ScalesMins(w + 4);
                var scales8 = Vector128.WidenLower(Vector128.CreateScalar(scaleBytes).AsByte());
                var scales = Vector256.Create(scales8, scales8).AsByte();
                var minBytes16 = Vector128.Shuffle(Vector128.CreateScalar(minBytes).AsByte(), minPairs);
                var minsLow = Avx2.ConvertToVector256Int32(minBytes16);
                var minsHigh = Avx2.ConvertToVector256Int32(Vector128.Shuffle(minBytes16.AsUInt64(), Vector128.Create(1ul, 0)).AsByte());
                byte* q = w + (five ? 48 : 16);
                var highBits = five ? Vector256.Load(w + 16) : default;
                Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
                for (int k = 0; k < 4; k++)
                {
                    var packed = Vector256.Load(q + 32 * k);
                    var low = packed & nibble;
                    var high = Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & nibble;
                    if (five)
                    {
                        var lowBit = Vector256.Create((byte)(1 << (2 * k)));
                        var highBit = Vector256.Create((byte)(2 << (2 * k)));
                        low |= Vector256.Equals(highBits & lowBit, lowBit) & Vector256.Create((byte)0x10);
                        high |= Vector256.Equals(highBits & highBit, highBit) & Vector256.Create((byte)0x10);
                    }
                    var scaleLow = Avx2.Shuffle(scales, pickScale + Vector256.Create((byte)(4 * k))).AsInt16();
                    var scaleHigh = Avx2.Shuffle(scales, pickScale + Vector256.Create((byte)(4 * k + 2))).AsInt16();
                    int e = 256 * b + 64 * k;
                    i0 = K256Step(i0, low, high, a0 + e, scaleLow, scaleHigh);
                    if (TRows.N > 1) i1 = K256Step(i1, low, high, a1 + e, scaleLow, scaleHigh);
                    if (TRows.N > 2) i2 = K256Step(i2, low, high, a2 + e, scaleLow, scaleHigh);
                    if (TRows.N > 3) i3 = K256Step(i3, low, high, a3 + e, scaleLow, scaleHigh);
                }
                f0 = K256Block(f0, i0, minsLow, minsHigh, s0 + 16 * b, d * d0[b], dmin * d0[b]);
                if (TRows.N > 1) f1 = K256Block(f1, i1, minsLow, minsHigh, s1 + 16 * b, d * d1[b], dmin * d1[b]);
                if (TRows.N > 2) f2 = K256Block(f2, i2, minsLow, minsHigh, s2 + 16 * b, d * d2[b], dmin * d2[b]);
                if (TRows.N > 3) f3 = K256Block(f3, i3, minsLow, minsHigh, s3 + 16 * b, d * d3[b], dmin * d3[b]);
            }
            Put(y + n, Vector256.Sum(f0), add);
            if (TRows.N > 1) Put(y + ldy + n, Vector256.Sum(f1), add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Vector256.Sum(f2), add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Vector256.Sum(f3), add);
        }
    }

    /// <summary>acc += scaleLow·(low · a[0..32]) + scaleHigh·(high · a[32..64]) in 32-bit lanes (pmaddubsw, then pmaddwd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> K256Step(Vector256<int> acc, Vector256<byte> low, Vector256<byte> high, sbyte* a, Vector256<short> scaleLow, Vector256<short> scaleHigh)
    {
        acc += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(low, Vector256.Load(a)), scaleLow);
        return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(high, Vector256.Load(a + 32)), scaleHigh);
    }

    /// <summary><see cref="K512Block"/> on two 256-bit halves of the 16 offsets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> K256Block(Vector256<float> acc, Vector256<int> dots, Vector256<int> offsetsLow, Vector256<int> offsetsHigh,
        int* sums16, float scale, float offsetScale)
    {
        acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dots), Vector256.Create(scale), acc);
        var offsets = offsetsLow * Vector256.Load(sums16) + offsetsHigh * Vector256.Load(sums16 + 8);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(offsets), Vector256.Create(-offsetScale), acc);
    }

    /// <summary>
    /// Q6_K: levels q in [0, 63] from 4 low bits (ql) and 2 high bits (qh), weight d·sc·(q − 32) with a signed scale per 16;
    /// Σ = d·(Σ_j sc_j·Σ q·a − 32·Σ_j sc_j·Σ a). Each half of the block (128 values) holds four runs of 32: ql's low
    /// nibbles (then bits 0–1 of qh), ql[32..]'s low nibbles (bits 2–3), the high nibbles of ql, of ql[32..] (bits 4–5, 6–7).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q6_K<TVec, TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add) where TVec : struct where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            TVec f0 = default, f1 = default, f2 = default, f3 = default;
            float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
            for (int b = 0; b < t->Columns / 256; b++, w += KQuants.Q6_KBytes)
            {
                sbyte* sc = (sbyte*)(w + 192);
                float d = Half(w + 208);
                TVec i0 = default, i1 = default, i2 = default, i3 = default;
                for (int half = 0; half < 2; half++)
                {
                    byte* ql = w + 64 * half, qh = w + 128 + 32 * half;
                    for (int h = 0, part = 0; h < 32; h += Int8Simd<TVec>.Count, part++)
                    {
                        var lowRun = Int8Simd<TVec>.Load(ql + h);
                        var highRun = Int8Simd<TVec>.Load(ql + 32 + h);
                        var bits = Int8Simd<TVec>.Load(qh + h);
                        for (int run = 0; run < 4; run++)
                        {
                            var q = Q6Run(lowRun, highRun, bits, run);
                            // Sub-blocks of 16: the run's first 16 values take scale 2·run, the next 16 scale 2·run + 1.
                            int j = 8 * half + 2 * run;
                            short sa = sc[j + part], sb = sc[j + 1];
                            int e = 256 * b + 128 * half + 32 * run + h;
                            i0 = Int8Simd<TVec>.DotScaled(i0, q, Int8Simd<TVec>.Load(a0 + e), sa, sb);
                            if (TRows.N > 1) i1 = Int8Simd<TVec>.DotScaled(i1, q, Int8Simd<TVec>.Load(a1 + e), sa, sb);
                            if (TRows.N > 2) i2 = Int8Simd<TVec>.DotScaled(i2, q, Int8Simd<TVec>.Load(a2 + e), sa, sb);
                            if (TRows.N > 3) i3 = Int8Simd<TVec>.DotScaled(i3, q, Int8Simd<TVec>.Load(a3 + e), sa, sb);
                        }
                    }
                }
                f0 = Int8Simd<TVec>.MultiplyAdd(f0, i0, d * d0[b]);
                if (TRows.N > 1) f1 = Int8Simd<TVec>.MultiplyAdd(f1, i1, d * d1[b]);
                if (TRows.N > 2) f2 = Int8Simd<TVec>.MultiplyAdd(f2, i2, d * d2[b]);
                if (TRows.N > 3) f3 = Int8Simd<TVec>.MultiplyAdd(f3, i3, d * d3[b]);
                o0 += d * d0[b] * OffsetTerm(sc, s0 + 16 * b);
                if (TRows.N > 1) o1 += d * d1[b] * OffsetTerm(sc, s1 + 16 * b);
                if (TRows.N > 2) o2 += d * d2[b] * OffsetTerm(sc, s2 + 16 * b);
                if (TRows.N > 3) o3 += d * d3[b] * OffsetTerm(sc, s3 + 16 * b);
            }
            Put(y + n, Int8Simd<TVec>.SumFloats(f0) - 32 * o0, add);
            if (TRows.N > 1) Put(y + ldy + n, Int8Simd<TVec>.SumFloats(f1) - 32 * o1, add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Int8Simd<TVec>.SumFloats(f2) - 32 * o2, add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Int8Simd<TVec>.SumFloats(f3) - 32 * o3, add);
        }
    }

    /// <summary>
    /// <see cref="Q6_K{TVec, TRows}"/> on 512-bit registers (AVX-512BW): 64 bytes of ql give runs 0 and 1 (low nibbles)
    /// and runs 2 and 3 (high nibbles) of a half block, in activation order; qh's two bits per run come from one
    /// broadcast and a shift per 256-bit half; the four scales of 16 a register spans are picked from the block's widened
    /// scales by a permute, and the −32 offset is a vector product with the activations' sums of 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q6_K512<TRows>(PackedMatrix matrix, int n0, int n1, Tile* t, float* y, long ldy, bool add) where TRows : struct, IRows
    {
        sbyte* a0 = t->A0, a1 = t->A1, a2 = t->A2, a3 = t->A3;
        float* d0 = t->D0, d1 = t->D1, d2 = t->D2, d3 = t->D3;
        int* s0 = t->S0, s1 = t->S1, s2 = t->S2, s3 = t->S3;
        var nibble = Vector512.Create((byte)0x0F);
        var two = Vector512.Create((byte)3);
        // qh's bits for runs 0 and 1 (shift 0, 2), then runs 2 and 3 (shift 4, 6).
        var shiftRuns01 = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)2));
        var shiftRuns23 = Vector512.Create(Vector256.Create((ushort)4), Vector256.Create((ushort)6));
        // Scale j for the 8 products of each 128-bit lane j (plus the register's first sub-block).
        var pickScales = Vector512.Create(Vector256.Create(Vector128<short>.Zero, Vector128.Create((short)1)),
            Vector256.Create(Vector128.Create((short)2), Vector128.Create((short)3)));
        for (int n = n0; n < n1; n++)
        {
            byte* w = matrix.Row(n);
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < t->Columns / 256; b++, w += KQuants.Q6_KBytes)
            {
                float d = Half(w + 208);
                var scaleBytes = Vector128.Load((sbyte*)(w + 192));
                var scales = Avx2.ConvertToVector256Int16(scaleBytes).ToVector512Unsafe();
                var offsets = Avx512F.ConvertToVector512Int32(scaleBytes);
                Vector512<int> i0 = default, i1 = default, i2 = default, i3 = default;
                for (int half = 0; half < 2; half++)
                {
                    var ql = Vector512.Load(w + 64 * half);
                    var qh = Twice(w + 128 + 32 * half).AsUInt16();
                    for (int pair = 0; pair < 2; pair++)
                    {
                        var nibbles = pair == 0 ? ql & nibble : Vector512.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & nibble;
                        var top = Avx512BW.ShiftRightLogicalVariable(qh, pair == 0 ? shiftRuns01 : shiftRuns23).AsByte() & two;
                        var levels = nibbles | Vector512.ShiftLeft(top.AsUInt16(), 4).AsByte();
                        var scale = Avx512BW.PermuteVar32x16(scales, pickScales + Vector512.Create((short)(8 * half + 4 * pair)));
                        int e = 256 * b + 128 * half + 64 * pair;
                        i0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(a0 + e)), scale);
                        if (TRows.N > 1) i1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(a1 + e)), scale);
                        if (TRows.N > 2) i2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(a2 + e)), scale);
                        if (TRows.N > 3) i3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(levels, Vector512.Load(a3 + e)), scale);
                    }
                }
                f0 = K512Block(f0, i0, offsets, s0 + 16 * b, d * d0[b], 32 * d * d0[b]);
                if (TRows.N > 1) f1 = K512Block(f1, i1, offsets, s1 + 16 * b, d * d1[b], 32 * d * d1[b]);
                if (TRows.N > 2) f2 = K512Block(f2, i2, offsets, s2 + 16 * b, d * d2[b], 32 * d * d2[b]);
                if (TRows.N > 3) f3 = K512Block(f3, i3, offsets, s3 + 16 * b, d * d3[b], 32 * d * d3[b]);
            }
            Put(y + n, Vector512.Sum(f0), add);
            if (TRows.N > 1) Put(y + ldy + n, Vector512.Sum(f1), add);
            if (TRows.N > 2) Put(y + 2 * ldy + n, Vector512.Sum(f2), add);
            if (TRows.N > 3) Put(y + 3 * ldy + n, Vector512.Sum(f3), add);
        }
    }

    /// <summary>Q6_K's levels of run <paramref name="run"/> (0–3) of a half block from its ql and qh bytes, at any width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TBytes Q6Run<TBytes>(TBytes lowRun, TBytes highRun, TBytes bits, int run) where TBytes : struct
    {
        var nibbles = run switch
        {
            0 => Int8Simd<TBytes>.LowNibbles(lowRun),
            1 => Int8Simd<TBytes>.LowNibbles(highRun),
            2 => Int8Simd<TBytes>.HighNibbles(lowRun),
            _ => Int8Simd<TBytes>.HighNibbles(highRun),
        };
        var top = Int8Simd<TBytes>.And(run == 0 ? bits : Int8Simd<TBytes>.ShiftRight(bits, 2 * run), Int8Simd<TBytes>.Broadcast(3));
        return Int8Simd<TBytes>.Or(nibbles, Int8Simd<TBytes>.Times16(top));
    }

    /// <summary>Σ_j sc_j · (sum of sub-block j's 16 activations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int OffsetTerm(sbyte* scales, int* sums16)
    {
        int total = 0;
        for (int j = 0; j < 16; j++) total += scales[j] * sums16[j];
        return total;
    }

    /// <summary>
    /// The scalar reference: Σ_j W[j]·X[row, j] from the blocks' levels and scales one value at a time, integer sums per
    /// block and float scales per block, for every type of <see cref="Supports"/>.
    /// </summary>
    public static float Reference(GgmlType type, byte* w, QuantizedActivations x, int row)
    {
        int columns = x.Columns;
        sbyte* a = x.Q(row);
        float* da = x.Scales(row);
        int* s16 = x.Sums(row);
        float* q8_1Sums = x.BlockSums(row);
        double total = 0;
        switch (type)
        {
            case GgmlType.Q8_0:
            case GgmlType.Q4_0:
            case GgmlType.Q5_0:
            case GgmlType.Q5_1:
                for (int b = 0; b < columns / 32; b++)
                {
                    int blockBytes = (int)GgmlQuants.RowBytes(type, 32);
                    byte* block = w + b * blockBytes;
                    float d = Half(block);
                    int dot = 0, activationSum = s16[2 * b] + s16[2 * b + 1];
                    for (int i = 0; i < 32; i++) dot += Level(type, block, i) * a[32 * b + i];
                    float blockSum = type switch
                    {
                        GgmlType.Q8_0 => d * da[b] * dot,
                        GgmlType.Q4_0 => d * da[b] * (dot - 8 * activationSum),
                        GgmlType.Q5_0 => d * da[b] * (dot - 16 * activationSum),
                        _ => d * da[b] * dot + Half(block + 2) * q8_1Sums[b],
                    };
                    total += blockSum;
                }
                break;
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
                for (int b = 0; b < columns / 256; b++)
                {
                    byte* block = w + b * (type == GgmlType.Q4_K ? KQuants.Q4_KBytes : KQuants.Q5_KBytes);
                    var packed = new ReadOnlySpan<byte>(block + 4, 12);
                    int scaled = 0, minTerm = 0;
                    for (int j = 0; j < 8; j++)
                    {
                        var (sc, m) = KQuants.ScaleMin(packed, j);
                        int dot = 0;
                        for (int i = 0; i < 32; i++) dot += KLevel(type, block, 32 * j + i) * a[256 * b + 32 * j + i];
                        scaled += sc * dot;
                        minTerm += m * (s16[16 * b + 2 * j] + s16[16 * b + 2 * j + 1]);
                    }
                    total += Half(block) * da[b] * scaled - Half(block + 2) * da[b] * minTerm;
                }
                break;
            case GgmlType.Q6_K:
                for (int b = 0; b < columns / 256; b++)
                {
                    byte* block = w + b * KQuants.Q6_KBytes;
                    int scaled = 0;
                    for (int j = 0; j < 16; j++)
                    {
                        int dot = 0;
                        for (int i = 0; i < 16; i++) dot += (KLevel(type, block, 16 * j + i) - 32) * a[256 * b + 16 * j + i];
                        scaled += ((sbyte*)(block + 192))[j] * dot;
                    }
                    total += Half(block + 208) * da[b] * scaled;
                }
                break;
            default:
                throw new InvalidOperationException($"no integer kernel for {type}");
        }
        return (float)total;
    }

    /// <summary>
    /// A stored half-precision value as a float, without the library conversion's branches (it runs once per block in
    /// the K-quant kernels): <see cref="HalvesToSingles"/> on one lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(byte* at) => HalvesToSingles(Vector128.CreateScalar((uint)Unsafe.ReadUnaligned<ushort>(at))).ToScalar();

    /// <summary>
    /// A stored half as a float with one exact multiply: the half's exponent and mantissa moved to a float's position
    /// read as the value times 2⁻¹¹². Exact for every finite half, but a subnormal half makes a subnormal operand (a
    /// microcode assist on x64), so it is for the 32-blocks only, whose scales amax/127 are normal for weights above
    /// 0.008 — there it is cheaper per block than <see cref="Half"/>, which matters to Q8_0's short blocks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float NormalHalf(byte* at)
    {
        int bits = Unsafe.ReadUnaligned<ushort>(at);
        float magnitude = BitConverter.Int32BitsToSingle((bits & 0x7FFF) << 13) * BitConverter.Int32BitsToSingle((127 + 112) << 23);
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(magnitude) | (bits & 0x8000) << 16);
    }

    /// <summary>
    /// Half-precision bits (the low 16 of each lane) as floats, with integer operations and one subtraction of normal
    /// floats: the exponent is rebiased by adding to the bits; a subnormal half is rebiased one step higher, which reads
    /// as 2⁻¹⁴ too much, and that 2⁻¹⁴ is subtracted. No operation sees a subnormal float — on x64 each one costs a
    /// microcode assist, and the block scales of real models' small weights are subnormal halves (the kernels ran 3×
    /// slower on weights of magnitude 0.02 than on magnitude 1 when a multiply did this). Infinities and NaNs read as
    /// ±65536·(1 + m), finite: a hostile file's block cannot produce them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> HalvesToSingles(Vector128<uint> bits)
    {
        var magnitude = (bits & Vector128.Create(0x7FFFu)) << 13;
        var normal = (magnitude + Vector128.Create(112u << 23)).AsSingle();
        var subnormal = (magnitude + Vector128.Create(113u << 23)).AsSingle() - Vector128.Create(113u << 23).AsSingle();
        var isSubnormal = Vector128.Equals(magnitude & Vector128.Create(0x1Fu << 23), Vector128<uint>.Zero).AsSingle();
        return Vector128.ConditionalSelect(isSubnormal, subnormal, normal) | ((bits & Vector128.Create(0x8000u)) << 16).AsSingle();
    }

    /// <summary>Value i's level in a 32-block: signed for Q8_0, unsigned (0–15 or 0–31) for the others.</summary>
    static int Level(GgmlType type, byte* block, int i)
    {
        switch (type)
        {
            case GgmlType.Q8_0: return ((sbyte*)(block + 2))[i];
            case GgmlType.Q4_0: return i < 16 ? block[2 + i] & 0xF : block[2 + i - 16] >> 4;
        }
        int qhAt = type == GgmlType.Q5_1 ? 4 : 2, qsAt = qhAt + 4;
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(block + qhAt, 4));
        int low = i < 16 ? block[qsAt + i] & 0xF : block[qsAt + i - 16] >> 4;
        return low | (int)(qh >> i & 1) << 4;
    }

    /// <summary>Value i's unsigned level in a K-quant block (Q4_K 0–15, Q5_K 0–31, Q6_K 0–63).</summary>
    static int KLevel(GgmlType type, byte* block, int i)
    {
        if (type == GgmlType.Q6_K)
        {
            int half = i / 128, l = i % 32, run = i % 128 / 32;
            byte ql = block[64 * half + l + (run % 2 == 1 ? 32 : 0)];
            int low = run < 2 ? ql & 0xF : ql >> 4;
            return low | (block[128 + 32 * half + l] >> (2 * run) & 3) << 4;
        }
        int k = i / 64, j = i % 64;
        byte* q = block + (type == GgmlType.Q5_K ? 48 : 16);
        int level = j < 32 ? q[32 * k + j] & 0xF : q[32 * k + j - 32] >> 4;
        if (type == GgmlType.Q5_K) level |= (block[16 + j % 32] >> (2 * k + (j < 32 ? 0 : 1)) & 1) << 4;
        return level;
    }
}
