namespace R1Sharp.Gguf;

/// <summary>
/// A tensor as GGUF describes it. <see cref="Dims"/> are in GGUF order, innermost (contiguous) first, the reverse
/// of the PyTorch shape; <see cref="Offset"/> is relative to the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset, long ByteSize)
{
    /// <summary>The shape in PyTorch order (outermost first).</summary>
    public long[] Shape => Dims.Reverse().ToArray();

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);
}
