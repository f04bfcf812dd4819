using System.Runtime.CompilerServices;
using static TorchSharp.torch;

[assembly: InternalsVisibleTo("R1Sharp.Tests")]
[assembly: InternalsVisibleTo("R1Sharp.Reference")] // r1 bench generate profiles the CPU kernels

namespace R1Sharp.Checkpoints;

/// <summary>
/// The raw memory of a CPU tensor as byte spans. A Span is int-indexed, so tensors of 2 GB and more
/// (a 671B model's embedding in F32) are visited as a sequence of chunks of a flat view.
/// </summary>
internal static class TensorBytes
{
    public const long DefaultChunkBytes = 1L << 30;

    public delegate void ChunkAction(Span<byte> chunk, long offsetInTensor);

    /// <param name="tensor">A contiguous CPU tensor.</param>
    public static void ForEachChunk(Tensor tensor, ChunkAction action, long maxChunkBytes = DefaultChunkBytes)
    {
        long elementSize = tensor.element_size();
        long elements = tensor.numel();
        if (elements == 0) return;
        if (elements * elementSize <= maxChunkBytes)
        {
            action(tensor.bytes, 0);
            return;
        }
        using var flat = tensor.view(-1);
        long elementsPerChunk = Math.Max(1, maxChunkBytes / elementSize);
        for (long start = 0; start < elements; start += elementsPerChunk)
        {
            // A narrowed view's data pointer starts at its first element, so its bytes are that slice of the tensor.
            using var slice = flat.narrow(0, start, Math.Min(elementsPerChunk, elements - start));
            action(slice.bytes, start * elementSize);
        }
    }
}
