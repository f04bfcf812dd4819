using System.Runtime.InteropServices;

namespace R1Sharp.Inference;

/// <summary>
/// A 64-byte-aligned float buffer outside the GC heap that grows on demand and is otherwise reused, so decode
/// steps allocate nothing. Freed when it is collected (it lives as long as its model's <see cref="ForwardRunner"/>).
/// </summary>
sealed unsafe class NativeBuffer
{
    float* data;
    long capacity;

    /// <summary>At least <paramref name="count"/> floats; the contents are not preserved when it grows.</summary>
    public float* Get(long count)
    {
        if (count > capacity)
        {
            Free();
            // Grow with headroom so a batch that grows one row at a time does not reallocate every step.
            long size = Math.Max(count, capacity + capacity / 2);
            data = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
            capacity = size;
        }
        return data;
    }

    void Free()
    {
        if (data != null) NativeMemory.AlignedFree(data);
        data = null;
        capacity = 0;
    }

    ~NativeBuffer() => Free();
}

/// <summary>One scratch buffer per worker thread.</summary>
sealed unsafe class WorkerBuffers
{
    NativeBuffer[] buffers = [];
    long size;

    /// <summary>Makes every worker's buffer hold <paramref name="count"/> floats; call before running a job.</summary>
    public void Ensure(int workers, long count)
    {
        if (buffers.Length < workers)
        {
            var grown = new NativeBuffer[workers];
            buffers.CopyTo(grown, 0);
            for (int i = buffers.Length; i < workers; i++) grown[i] = new NativeBuffer();
            buffers = grown;
        }
        size = count;
        foreach (var b in buffers) b.Get(count);
    }

    public float* Floats(int worker) => buffers[worker].Get(size);
}
