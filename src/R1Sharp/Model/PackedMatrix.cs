using R1Sharp.Gguf;
using R1Sharp.Quantization;
using static TorchSharp.torch;

namespace R1Sharp.Model;

/// <summary>
/// A read-only weight matrix [<see cref="Rows"/>, <see cref="Columns"/>] kept in its stored ggml element type (F32,
/// F16, BF16 or a quantized block type), row after row in memory someone else owns — a GGUF file mapped into memory —
/// so a 4-bit model takes about its file's size. The engine's CPU kernels read the rows as they are, or (Q4_K, Q5_K,
/// Q6_K, Q8_0 on CPUs with AVX-VNNI) a copy repacked into 8-row panels, after which a file's pages are dropped; the
/// libtorch reference dequantizes them per call. <see cref="RowOrder"/> lets a view present the rows in another order without copying
/// them (llama.cpp stores the q/k rows of llama models permuted).
/// </summary>
public sealed unsafe class PackedMatrix
{
    readonly byte* data;
    readonly object owner;
    readonly bool fileMapped;

    /// <summary>The CPU kernels' repacked copy of these rows, once <see cref="Inference.QuantizedPanels.For"/> has made it.</summary>
    internal Inference.QuantizedPanels? Panels;

    /// <param name="data">Row 0's first byte; <paramref name="owner"/> keeps that memory alive as long as this matrix is reachable.</param>
    /// <param name="fileMapped">The rows are a read-only mapping of a file, whose pages can be dropped and read again (<see cref="ReleaseStoredPages"/>).</param>
    public PackedMatrix(GgmlType type, int rows, int columns, byte* data, object owner, int[]? rowOrder = null, bool fileMapped = false)
    {
        if (!GgmlQuants.IsSupported(type)) throw new R1Error($"tensor type {type} is not supported (supported: {GgmlQuants.SupportedList})");
        if (rowOrder is not null && rowOrder.Length != rows) throw new ArgumentException("the row order must name every row");
        Type = type;
        Rows = rows;
        Columns = columns;
        RowBytes = GgmlQuants.RowBytes(type, columns);
        this.data = data;
        this.owner = owner;
        RowOrder = rowOrder;
        this.fileMapped = fileMapped;
    }

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Columns { get; }
    /// <summary>Bytes of one row (a whole number of blocks).</summary>
    public long RowBytes { get; }
    /// <summary>Row i of this matrix is stored row RowOrder[i]; null means stored order.</summary>
    public int[]? RowOrder { get; }

    /// <summary>Row <paramref name="row"/>'s first byte (inlined: the kernels call it per row, and a call spills their vector registers).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal byte* Row(int row) => data + (RowOrder is null ? row : RowOrder[row]) * RowBytes;

    /// <summary>Rows [<paramref name="first"/>, first + <paramref name="count"/>) as a matrix of their own (one expert of a stacked tensor).</summary>
    public PackedMatrix Slice(int first, int count)
    {
        if (first < 0 || count < 0 || first + count > Rows) throw new ArgumentOutOfRangeException(nameof(first));
        if (RowOrder is not null) return new PackedMatrix(Type, count, Columns, data, owner, RowOrder[first..(first + count)], fileMapped);
        return new PackedMatrix(Type, count, Columns, data + first * RowBytes, owner, fileMapped: fileMapped);
    }

    /// <summary>The same rows presented in <paramref name="order"/> (row i of the view is row order[i] of this matrix).</summary>
    public PackedMatrix Reordered(int[] order) =>
        new(Type, Rows, Columns, data, owner, order.Select(i => RowOrder is null ? i : RowOrder[i]).ToArray(), fileMapped);

    /// <summary>
    /// Once the CPU kernels hold a repacked copy of these rows, drops the mapped file's pages of them from this process's
    /// resident memory (the rows stay readable: a later read maps them in again from the page cache). Does nothing for
    /// rows in memory the process owns, which dropping would lose.
    /// </summary>
    internal void ReleaseStoredPages()
    {
        if (!fileMapped) return;
        // Ordered rows lie between the lowest and highest stored row they name.
        long first = RowOrder is null ? 0 : RowOrder.Min(), last = RowOrder is null ? Rows - 1 : RowOrder.Max();
        Inference.HugePages.Drop((IntPtr)(data + first * RowBytes), (last - first + 1) * RowBytes);
    }

    /// <summary>Rows [first, first + count) as float32 values into <paramref name="destination"/> (count × Columns).</summary>
    public void DequantizeRows(int first, int count, Span<float> destination)
    {
        for (int r = 0; r < count; r++)
            GgmlQuants.Dequantize(Type, new ReadOnlySpan<byte>(Row(first + r), (int)RowBytes), destination.Slice(r * Columns, Columns));
    }

    /// <summary>A Q5_1 matrix's block mins m as a float32 tensor [Rows, Columns / 32] (<see cref="GgmlQuants.Q8_1SumCorrection"/> multiplies them).</summary>
    public Tensor BlockMins()
    {
        if (Type != GgmlType.Q5_1) throw new InvalidOperationException($"{Type} blocks have no min");
        int blocks = Columns / LegacyQuants.BlockSize;
        var mins = new float[(long)Rows * blocks];
        for (int r = 0; r < Rows; r++)
            for (int b = 0; b < blocks; b++)
                mins[(long)r * blocks + b] = LegacyQuants.ReadHalf(new ReadOnlySpan<byte>(Row(r) + b * LegacyQuants.Q5_1Bytes + 2, 2));
        return tensor(mins, [Rows, blocks]);
    }

    /// <summary>The whole matrix as a float32 tensor [Rows, Columns] (for the libtorch path and tests; allocates a copy).</summary>
    public Tensor ToTensor()
    {
        var values = new float[(long)Rows * Columns];
        DequantizeRows(0, Rows, values);
        return tensor(values, [Rows, Columns]);
    }
}
