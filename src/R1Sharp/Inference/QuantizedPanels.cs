using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using R1Sharp.Gguf;
using R1Sharp.Model;
using R1Sharp.Quantization;
using static R1Sharp.Inference.QuantizedDots;

namespace R1Sharp.Inference;

/// <summary>
/// A quantized matrix's rows repacked into panels of <see cref="Width"/> rows, as llama.cpp's CPU backend repacks Q4_K
/// into <c>block_q4_Kx8</c>: within a panel, each K-block holds its 8 rows' levels interleaved four at a time, so one
/// 32-byte load gives 8 rows × 4 consecutive levels and AVX-VNNI's <c>vpdpbusd</c> against 4 activation bytes
/// broadcast adds to 8 outputs at once. Each lane of an accumulator is then one output: no horizontal sums per block,
/// the block and sub-block scales apply as vectors, and a tile of up to 4 activation rows shares every unpacked weight
/// register. The layout (per K-block of a panel, rows c = 0..7, levels unsigned):
/// <list type="bullet">
/// <item>Q4_K (1,216 bytes): d[8], dmin[8] as floats; scale[j][c] bytes; min pairs [p][c](m₂ₚ, m₂ₚ₊₁) bytes; then per group
/// g of 8 values, 32 bytes [c][i] = level(8g + i) | level(8g + 4 + i) ≪ 4.</item>
/// <item>Q5_K (1,472 bytes): Q4_K's, but each sub-block j of 32 (groups 4j + h, h = 0..3) followed by 32 bytes [c][i]
/// whose bit 2h is the fifth bit of value 32j + 8h + i and bit 2h + 1 that of 32j + 8h + 4 + i.</item>
/// <item>Q6_K (1,696 bytes): d[8] floats; signed scale pairs [p][c](sc₂ₚ, sc₂ₚ₊₁); then per sub-block j of 16 its two groups
/// of low nibbles (as Q4_K's) and 32 bytes [c][i] of the top two bits of level(16j + i), (16j + 4 + i), (16j + 8 + i),
/// (16j + 12 + i).</item>
/// <item>Q8_0 (288 bytes): d[8] floats; per 4 values q, 32 bytes [c][i] = level(4q + i) + 128 (unsigned; the kernel takes 128·Σa back).</item>
/// </list>
/// Each sub-block's bytes are contiguous, so a panel is read as one forward stream. Built once per matrix at its first product; a file-mapped matrix's stored pages are then handed back to the page
/// cache, so the process holds the panels (≈ 1.01–1.06× the stored bytes) instead of both.
/// </summary>
sealed unsafe class QuantizedPanels
{
    /// <summary>Weight rows per panel (one 256-bit register of 32-bit outputs).</summary>
    public const int Width = 8;

    static readonly Lock BuildGate = new();

    readonly byte* data;

    QuantizedPanels(PackedMatrix matrix)
    {
        Type = matrix.Type;
        Rows = matrix.Rows;
        Columns = matrix.Columns;
        Blocks = Columns / QuantizedDots.ActivationBlock(Type);
        PanelBytes = (long)Blocks * BlockBytes(Type);
        Panels = (Rows + Width - 1) / Width;
        long bytes = Panels * PanelBytes;
        data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 2 << 20);
        GC.AddMemoryPressure(bytes);
        HugePages.Advise((IntPtr)data, bytes);
    }

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Columns { get; }
    public int Blocks { get; }
    public int Panels { get; }
    public long PanelBytes { get; }

    /// <summary>Panel <paramref name="panel"/>'s first block.</summary>
    public byte* Panel(int panel) => data + panel * PanelBytes;

    /// <summary>
    /// <c>R1SHARP_REPACK=0</c> keeps the stored rows and their kernels (as llama.cpp's <c>--no-repack</c>): to compare the
    /// two paths on one machine, or to skip the repacking's second or two at load.
    /// </summary>
    static readonly bool Enabled = Environment.GetEnvironmentVariable("R1SHARP_REPACK") != "0";

    /// <summary>Whether this CPU has the panel kernels and they cover the type (what Q4_K_M, Q5_K_M and Q8_0 files hold most of).</summary>
    public static bool Supports(GgmlType type) =>
        AvxVnni.IsSupported && type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_0;

    /// <summary><see cref="Supports"/>, unless <c>R1SHARP_REPACK=0</c>: what the linear job asks before it repacks.</summary>
    public static bool Used(GgmlType type) => Enabled && Supports(type);

    /// <summary>Bytes of one K-block of a panel.</summary>
    public static int BlockBytes(GgmlType type) => type switch
    {
        GgmlType.Q4_K => 1216,
        GgmlType.Q5_K => 1472,
        GgmlType.Q6_K => 1696,
        GgmlType.Q8_0 => 288,
        _ => throw new ArgumentException($"no panel layout for {type}"),
    };

    /// <summary>The panels of <paramref name="matrix"/>, repacked on <paramref name="workers"/> the first time they are asked for.</summary>
    public static QuantizedPanels For(PackedMatrix matrix, CpuWorkers workers)
    {
        if (Volatile.Read(ref matrix.Panels) is { } panels) return panels;
        lock (BuildGate)
        {
            if (matrix.Panels is { } built) return built;
            if (!Supports(matrix.Type)) throw new ArgumentException($"no panel kernels for {matrix.Type} on this CPU");
            panels = new QuantizedPanels(matrix);
            new RepackJob(matrix, panels).Run(workers);
            Volatile.Write(ref matrix.Panels, panels);
            matrix.ReleaseStoredPages();
            return panels;
        }
    }

    /// <summary>Whether <paramref name="matrix"/> has been repacked (a server repacks before its first request).</summary>
    public static bool IsBuilt(PackedMatrix matrix) => Volatile.Read(ref matrix.Panels) is not null;

    ~QuantizedPanels()
    {
        NativeMemory.AlignedFree(data);
        GC.RemoveMemoryPressure(Panels * PanelBytes);
    }

    // ---- repacking --------------------------------------------------------------------------------------------------

    sealed class RepackJob(PackedMatrix matrix, QuantizedPanels panels) : ParallelJob
    {
        public void Run(CpuWorkers workers) => workers.Run(this, panels.Panels);

        // Optimized from the first call: it runs once per panel, and tier-0 code repacked at a tenth of the speed.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int panel, int worker)
        {
            byte* target = panels.Panel(panel);
            NativeMemory.Clear(target, (nuint)panels.PanelBytes); // rows past the matrix stay zero: zero scales, zero outputs
            int blockBytes = BlockBytes(matrix.Type);
            long rowBlockBytes = GgmlQuants.RowBytes(matrix.Type, QuantizedDots.ActivationBlock(matrix.Type));
            for (int c = 0; c < Width && panel * Width + c < matrix.Rows; c++)
            {
                byte* row = matrix.Row(panel * Width + c);
                for (int b = 0; b < panels.Blocks; b++)
                {
                    byte* source = row + b * rowBlockBytes, block = target + (long)b * blockBytes;
                    switch (matrix.Type)
                    {
                        case GgmlType.Q4_K or GgmlType.Q5_K: RepackQ4_K(source, block, c, five: matrix.Type == GgmlType.Q5_K); break;
                        case GgmlType.Q6_K: RepackQ6_K(source, block, c); break;
                        default: RepackQ8_0(source, block, c); break;
                    }
                }
            }
        }
    }

    static uint Word(byte* at) => Unsafe.ReadUnaligned<uint>(at);

    /// <summary>
    /// Row c's group of 8 levels whose 4-bit parts are the low (or high) nibbles of the 8 stored bytes at
    /// <paramref name="nibbles"/>: byte i of the result holds level i and, above it, level 4 + i (32-bit word operations).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PutGroup(byte* group, int c, byte* nibbles, bool high)
    {
        uint first = Word(nibbles), second = Word(nibbles + 4);
        uint levels = high ? (first >> 4 & 0x0F0F0F0F) | (second & 0xF0F0F0F0) : (first & 0x0F0F0F0F) | (second & 0x0F0F0F0F) << 4;
        Unsafe.WriteUnaligned(group + 4 * c, levels);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RepackQ4_K(byte* source, byte* block, int c, bool five)
    {
        ((float*)block)[c] = Half(source);
        ((float*)block)[8 + c] = Half(source + 2);
        var (scales, mins) = KQuants.ScalesMins(source + 4);
        for (int j = 0; j < 8; j++)
        {
            block[64 + 8 * j + c] = (byte)(scales >> 8 * j);
            block[128 + 16 * (j / 2) + 2 * c + j % 2] = (byte)(mins >> 8 * j);
        }
        // Stored: pair k's 32 bytes hold values 64k + i (low nibbles) and 64k + 32 + i (high nibbles); Q5_K's fifth bit
        // of value 32j + l is bit j of qh[l].
        byte* q = source + (five ? 48 : 16), qh = source + 16;
        int subBlockBytes = five ? 160 : 128;
        for (int g = 0; g < 32; g++)
            PutGroup(block + 192 + subBlockBytes * (g / 4) + 32 * (g % 4), c, q + 32 * (g / 8) + 8 * (g % 4), high: g % 8 >= 4);
        if (!five) return;
        for (int j = 0; j < 8; j++)
        {
            uint plane = 0;
            for (int h = 0; h < 4; h++)
                plane |= (Word(qh + 8 * h) >> j & 0x01010101) << 2 * h | (Word(qh + 8 * h + 4) >> j & 0x01010101) << 2 * h + 1;
            Unsafe.WriteUnaligned(block + 192 + 160 * j + 128 + 4 * c, plane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RepackQ6_K(byte* source, byte* block, int c)
    {
        ((float*)block)[c] = Half(source + 208);
        for (int j = 0; j < 16; j++) block[32 + 16 * (j / 2) + 2 * c + j % 2] = source[192 + j];
        // Stored: value 128·half + 32·run + l has its low 4 bits in ql[l] (runs 0, 2) or ql[l + 32] (runs 1, 3) — the low
        // nibble for runs 0–1 — and its top 2 bits at bit 2·run of qh[l].
        for (int g = 0; g < 32; g++)
        {
            int half = g / 16, run = g % 16 / 4, l = 8 * (g % 4);
            PutGroup(block + 160 + 96 * (g / 2) + 32 * (g % 2), c, source + 64 * half + (run % 2 == 1 ? 32 : 0) + l, high: run >= 2);
        }
        for (int j = 0; j < 16; j++)
        {
            int half = j / 8, run = j % 8 / 2, l = 16 * (j % 2);
            byte* qh = source + 128 + 32 * half + l;
            uint tops = 0;
            for (int q = 0; q < 4; q++) tops |= (Word(qh + 4 * q) >> 2 * run & 0x03030303) << 2 * q;
            Unsafe.WriteUnaligned(block + 160 + 96 * j + 64 + 4 * c, tops);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RepackQ8_0(byte* source, byte* block, int c)
    {
        ((float*)block)[c] = Half(source);
        // Adding 128 to a signed byte is flipping its top bit.
        for (int q = 0; q < 8; q++) Unsafe.WriteUnaligned(block + 32 + 32 * q + 4 * c, Word(source + 2 + 4 * q) ^ 0x80808080);
    }

    // ---- products ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// y[r·ldy + n] (+)= Σ_j W[n, j]·X[first + r, j] for weight rows n in [<paramref name="n0"/>, <paramref name="n1"/>)
    /// (n0 a multiple of <see cref="Width"/>, n1 one too or the last row) and r &lt; <paramref name="rows"/> ≤ 4, as
    /// <see cref="QuantizedDots.Rows{TVec}"/> computes it from the stored rows: the same integer sums, floats added in another order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Multiply(int n0, int n1, QuantizedActivations x, int first, int rows, float* y, long ldy, bool add)
    {
        if (n0 % Width != 0 || n1 > Rows || (n1 % Width != 0 && n1 != Rows) || rows is < 1 or > 4 || x.Columns != Columns
            || x.BlockSize != QuantizedDots.ActivationBlock(Type))
            throw new ArgumentException("panel products take whole panels of a matrix's rows and 1 to 4 activation rows of its width");
        // Q6_K's offsets multiply sums of 16; Q4_K's and Q5_K's mins, and Q8_0's 128·Σa, sums of 32.
        var tile = new Tile(x, first, rows, pairsOf16: Type == GgmlType.Q6_K);
        switch (rows)
        {
            case 1: Dispatch<One>(n0, n1, &tile, y, ldy, add); break;
            case 2: Dispatch<Two>(n0, n1, &tile, y, ldy, add); break;
            case 3: Dispatch<Three>(n0, n1, &tile, y, ldy, add); break;
            default: Dispatch<Four>(n0, n1, &tile, y, ldy, add); break;
        }
    }

    /// <summary>Q4_K or Q5_K levels: a type argument, so the JIT drops the fifth bits' work from the Q4_K kernel.</summary>
    interface ILevels { static abstract bool Five { get; } }
    struct FourBits : ILevels { public static bool Five => false; }
    struct FiveBits : ILevels { public static bool Five => true; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Dispatch<TRows>(int n0, int n1, Tile* t, float* y, long ldy, bool add) where TRows : struct, IRows
    {
        for (int p = n0 / Width; p * Width < n1; p++)
        {
            byte* panel = Panel(p);
            var (f0, f1, f2, f3) = Type switch
            {
                GgmlType.Q4_K => Q4_K<TRows, FourBits>(panel, t),
                GgmlType.Q5_K => Q4_K<TRows, FiveBits>(panel, t),
                GgmlType.Q6_K => Q6_K<TRows>(panel, t),
                _ => Q8_0<TRows>(panel, t),
            };
            int n = p * Width, valid = Math.Min(Width, n1 - n);
            Put(y + n, f0, add, valid);
            if (TRows.N > 1) Put(y + ldy + n, f1, add, valid);
            if (TRows.N > 2) Put(y + 2 * ldy + n, f2, add, valid);
            if (TRows.N > 3) Put(y + 3 * ldy + n, f3, add, valid);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* at, Vector256<float> value, bool add, int valid)
    {
        if (valid == Width)
        {
            (add ? Vector256.Load(at) + value : value).Store(at);
            return;
        }
        for (int i = 0; i < valid; i++) at[i] = add ? at[i] + value.GetElement(i) : value.GetElement(i);
    }

    /// <summary>4 activation bytes in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Quad(sbyte* at) => Vector256.Create(Unsafe.ReadUnaligned<int>(at)).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Dot(Vector256<int> acc, Vector256<byte> levels, sbyte* a) => AvxVnni.MultiplyWideningAndAdd(acc, levels, Quad(a));

    /// <summary>
    /// A panel of Q4_K (or Q5_K) rows: per sub-block j, 8 <c>vpdpbusd</c> per activation row (4 groups × low and high nibbles, with Q5_K's fifth bits ORed in),
    /// times the rows' scales j; per block, the mins against the sums of 32 with <c>vpdpwssd</c>, then d and dmin as floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Q4_K<TRows, TLevels>(byte* block, Tile* t)
        where TRows : struct, IRows where TLevels : struct, ILevels
    {
        var nibble = Vector256.Create((byte)0x0F);
        var fifthBit = Vector256.Create((byte)0x10);
        int blockBytes = TLevels.Five ? 1472 : 1216;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < Blocks; b++, block += blockBytes)
        {
            Vector256<int> k0 = default, k1 = default, k2 = default, k3 = default;
            byte* groups = block + 192;
            for (int j = 0; j < 8; j++, groups += TLevels.Five ? 160 : 128)
            {
                // Up to 3 activation rows, two sums per row (low and high nibbles): a vpdpbusd waits ~5 cycles for its
                // accumulator, and 2 to 4 chains leave the multipliers idle. With 4 rows there are enough chains, and
                // 8 would not fit the 16 registers a VEX-encoded vpdpbusd can name.
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                Vector256<int> h0 = default, h1 = default, h2 = default;
                int e = 256 * b + 32 * j;
                // Q5_K: the sub-block's fifth bits, two per group, moved down two bits a group.
                var fifths = TLevels.Five ? Vector256.Load(groups + 128).AsUInt16() : default;
                for (int g = 0; g < 4; g++, e += 8)
                {
                    var packed = Vector256.Load(groups + 32 * g);
                    var low = packed & nibble;
                    var high = Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & nibble;
                    if (TLevels.Five)
                    {
                        low |= Vector256.ShiftLeft(fifths, 4).AsByte() & fifthBit;
                        high |= Vector256.ShiftLeft(fifths, 3).AsByte() & fifthBit;
                        fifths = Vector256.ShiftRightLogical(fifths, 2);
                    }
                    s0 = Dot(s0, low, t->A0 + e);
                    h0 = Dot(h0, high, t->A0 + e + 4);
                    if (TRows.N > 1) s1 = Dot(s1, low, t->A1 + e);
                    if (TRows.N > 1) h1 = Dot(h1, high, t->A1 + e + 4);
                    if (TRows.N > 2) s2 = Dot(s2, low, t->A2 + e);
                    if (TRows.N > 2) h2 = Dot(h2, high, t->A2 + e + 4);
                    if (TRows.N > 3) s3 = Dot(Dot(s3, low, t->A3 + e), high, t->A3 + e + 4);
                }
                var scale = Avx2.ConvertToVector256Int32(block + 64 + 8 * j);
                k0 += Avx2.MultiplyLow(s0 + h0, scale);
                if (TRows.N > 1) k1 += Avx2.MultiplyLow(s1 + h1, scale);
                if (TRows.N > 2) k2 += Avx2.MultiplyLow(s2 + h2, scale);
                if (TRows.N > 3) k3 += Avx2.MultiplyLow(s3, scale);
            }
            Vector256<int> m0 = default, m1 = default, m2 = default, m3 = default;
            for (int p = 0; p < 4; p++)
            {
                var mins = Avx2.ConvertToVector256Int16(block + 128 + 16 * p);
                int at = 8 * b + 2 * p;
                m0 = AvxVnni.MultiplyWideningAndAdd(m0, mins, Pair(t->P0 + at));
                if (TRows.N > 1) m1 = AvxVnni.MultiplyWideningAndAdd(m1, mins, Pair(t->P1 + at));
                if (TRows.N > 2) m2 = AvxVnni.MultiplyWideningAndAdd(m2, mins, Pair(t->P2 + at));
                if (TRows.N > 3) m3 = AvxVnni.MultiplyWideningAndAdd(m3, mins, Pair(t->P3 + at));
            }
            var d = Vector256.Load((float*)block);
            var dmin = Vector256.Load((float*)block + 8);
            f0 = Scaled(f0, k0, m0, d, dmin, t->D0[b]);
            if (TRows.N > 1) f1 = Scaled(f1, k1, m1, d, dmin, t->D1[b]);
            if (TRows.N > 2) f2 = Scaled(f2, k2, m2, d, dmin, t->D2[b]);
            if (TRows.N > 3) f3 = Scaled(f3, k3, m3, d, dmin, t->D3[b]);
        }
        return (f0, f1, f2, f3);
    }

    /// <summary>Two 16-bit activation sums in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<short> Pair(short* at) => Vector256.Create(Unsafe.ReadUnaligned<int>(at)).AsInt16();

    /// <summary>acc + da·(d·dots − dmin·offsets), lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Scaled(Vector256<float> acc, Vector256<int> dots, Vector256<int> offsets, Vector256<float> d, Vector256<float> dmin, float da)
    {
        var scale = Vector256.Create(da);
        acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dots), d * scale, acc);
        return Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(offsets), -(dmin * scale), acc);
    }

    /// <summary>
    /// A panel of Q6_K rows: per sub-block j of 16, the two top bits of its 4 runs come from one 32-byte load and join
    /// the low nibbles; 4 <c>vpdpbusd</c> per activation row, times the signed scale j; the −32 offset is Σ sc·(sums of
    /// 16) with <c>vpdpwssd</c> on the scale pairs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Q6_K<TRows>(byte* block, Tile* t) where TRows : struct, IRows
    {
        var nibble = Vector256.Create((byte)0x0F);
        var topBits = Vector256.Create((byte)0x30);
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < Blocks; b++, block += 1696)
        {
            Vector256<int> k0 = default, k1 = default, k2 = default, k3 = default;
            Vector256<int> o0 = default, o1 = default, o2 = default, o3 = default;
            byte* subBlocks = block + 160;
            for (int p = 0; p < 8; p++)
            {
                var pairs = Avx2.ConvertToVector256Int16((sbyte*)block + 32 + 16 * p);
                int at = 16 * b + 2 * p;
                o0 = AvxVnni.MultiplyWideningAndAdd(o0, pairs, Pair(t->P0 + at));
                if (TRows.N > 1) o1 = AvxVnni.MultiplyWideningAndAdd(o1, pairs, Pair(t->P1 + at));
                if (TRows.N > 2) o2 = AvxVnni.MultiplyWideningAndAdd(o2, pairs, Pair(t->P2 + at));
                if (TRows.N > 3) o3 = AvxVnni.MultiplyWideningAndAdd(o3, pairs, Pair(t->P3 + at));
                // Sub-blocks 2p and 2p + 1: scale 2p in the low 16 bits of each lane, 2p + 1 in the high.
                var scaleLow = Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(pairs.AsInt32(), 16), 16);
                var scaleHigh = Vector256.ShiftRightArithmetic(pairs.AsInt32(), 16);
                Q6SubBlock<TRows>(subBlocks, 256 * b + 32 * p, t, scaleLow, nibble, topBits, ref k0, ref k1, ref k2, ref k3);
                Q6SubBlock<TRows>(subBlocks + 96, 256 * b + 32 * p + 16, t, scaleHigh, nibble, topBits, ref k0, ref k1, ref k2, ref k3);
                subBlocks += 192;
            }
            var d = Vector256.Load((float*)block);
            f0 = Offset(f0, k0, o0, d, t->D0[b]);
            if (TRows.N > 1) f1 = Offset(f1, k1, o1, d, t->D1[b]);
            if (TRows.N > 2) f2 = Offset(f2, k2, o2, d, t->D2[b]);
            if (TRows.N > 3) f3 = Offset(f3, k3, o3, d, t->D3[b]);
        }
        return (f0, f1, f2, f3);
    }

    /// <summary>One Q6_K sub-block of 16 values (two groups of nibbles, then the top bits, at <paramref name="groups"/>) into k += scale·(levels · a).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Q6SubBlock<TRows>(byte* groups, int e, Tile* t, Vector256<int> scale, Vector256<byte> nibble, Vector256<byte> topBits,
        ref Vector256<int> k0, ref Vector256<int> k1, ref Vector256<int> k2, ref Vector256<int> k3) where TRows : struct, IRows
    {
        var top = Vector256.Load(groups + 64);
        var first = Vector256.Load(groups);
        var second = Vector256.Load(groups + 32);
        // Values e..e+3 take bits 0–1 of the top byte, e+4..e+7 bits 2–3, e+8..e+11 bits 4–5, e+12..e+15 bits 6–7.
        var l0 = (first & nibble) | (Vector256.ShiftLeft(top.AsUInt16(), 4).AsByte() & topBits);
        var l1 = (Vector256.ShiftRightLogical(first.AsUInt16(), 4).AsByte() & nibble) | (Vector256.ShiftLeft(top.AsUInt16(), 2).AsByte() & topBits);
        var l2 = (second & nibble) | (top & topBits);
        var l3 = (Vector256.ShiftRightLogical(second.AsUInt16(), 4).AsByte() & nibble) | (Vector256.ShiftRightLogical(top.AsUInt16(), 2).AsByte() & topBits);
        var s = Dot(Dot(Dot(Dot(default, l0, t->A0 + e), l1, t->A0 + e + 4), l2, t->A0 + e + 8), l3, t->A0 + e + 12);
        k0 += Avx2.MultiplyLow(s, scale);
        if (TRows.N > 1)
        {
            s = Dot(Dot(Dot(Dot(default, l0, t->A1 + e), l1, t->A1 + e + 4), l2, t->A1 + e + 8), l3, t->A1 + e + 12);
            k1 += Avx2.MultiplyLow(s, scale);
        }
        if (TRows.N > 2)
        {
            s = Dot(Dot(Dot(Dot(default, l0, t->A2 + e), l1, t->A2 + e + 4), l2, t->A2 + e + 8), l3, t->A2 + e + 12);
            k2 += Avx2.MultiplyLow(s, scale);
        }
        if (TRows.N > 3)
        {
            s = Dot(Dot(Dot(Dot(default, l0, t->A3 + e), l1, t->A3 + e + 4), l2, t->A3 + e + 8), l3, t->A3 + e + 12);
            k3 += Avx2.MultiplyLow(s, scale);
        }
    }

    /// <summary>acc + d·da·(dots − 32·offsets), lane by lane (Q6_K's levels are stored 32 higher).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Offset(Vector256<float> acc, Vector256<int> dots, Vector256<int> offsets, Vector256<float> d, float da) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dots - Vector256.ShiftLeft(offsets, 5)), d * Vector256.Create(da), acc);

    /// <summary>
    /// A panel of Q8_0 rows: levels stored 128 higher as unsigned bytes, so each block's sum starts at −128·Σa (the
    /// block's sum of 32 activations) and 8 <c>vpdpbusd</c> per activation row finish it; then d·da as floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Q8_0<TRows>(byte* block, Tile* t) where TRows : struct, IRows
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int b = 0; b < Blocks; b++, block += 288)
        {
            var s0 = Vector256.Create(-128 * t->P0[b]);
            var s1 = TRows.N > 1 ? Vector256.Create(-128 * t->P1[b]) : default;
            var s2 = TRows.N > 2 ? Vector256.Create(-128 * t->P2[b]) : default;
            var s3 = TRows.N > 3 ? Vector256.Create(-128 * t->P3[b]) : default;
            byte* quads = block + 32;
            int e = 32 * b;
            for (int q = 0; q < 8; q++, e += 4)
            {
                var levels = Vector256.Load(quads + 32 * q);
                s0 = Dot(s0, levels, t->A0 + e);
                if (TRows.N > 1) s1 = Dot(s1, levels, t->A1 + e);
                if (TRows.N > 2) s2 = Dot(s2, levels, t->A2 + e);
                if (TRows.N > 3) s3 = Dot(s3, levels, t->A3 + e);
            }
            var d = Vector256.Load((float*)block);
            f0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s0), d * Vector256.Create(t->D0[b]), f0);
            if (TRows.N > 1) f1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s1), d * Vector256.Create(t->D1[b]), f1);
            if (TRows.N > 2) f2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s2), d * Vector256.Create(t->D2[b]), f2);
            if (TRows.N > 3) f3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(s3), d * Vector256.Create(t->D3[b]), f3);
        }
        return (f0, f1, f2, f3);
    }
}
