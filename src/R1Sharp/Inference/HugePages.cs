using System.Runtime.InteropServices;

namespace R1Sharp.Inference;

/// <summary>
/// Asks Linux to back large weight tensors with 2 MiB pages. Decode streams every weight once per token; with 4 KiB
/// pages each page costs a TLB walk and restarts the hardware prefetcher, and matrix-vector products measured
/// about a tenth slower. Best effort: other systems, older kernels and refusals leave the memory as it was. Also drops a
/// file mapping's pages once their contents live elsewhere (<see cref="Drop"/>).
/// </summary>
static partial class HugePages
{
    const int MadviseDontNeed = 4, MadviseHugePage = 14, MadviseCollapse = 25;
    const long PageSize = 2 << 20;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(IntPtr address, UIntPtr length, int advice);

    /// <summary>Advises the whole 2 MiB pages inside [address, address + bytes) and collapses them now.</summary>
    public static void Advise(IntPtr address, long bytes)
    {
        if (!OperatingSystem.IsLinux() || bytes < 2 * PageSize) return;
        long start = ((long)address + PageSize - 1) & ~(PageSize - 1), end = ((long)address + bytes) & ~(PageSize - 1);
        if (end <= start) return;
        try
        {
            // MADV_HUGEPAGE keeps the range eligible (THP is often "madvise" only); MADV_COLLAPSE (Linux 6.1+) applies it at once.
            if (Madvise((IntPtr)start, (UIntPtr)(end - start), MadviseHugePage) == 0)
                Madvise((IntPtr)start, (UIntPtr)(end - start), MadviseCollapse);
        }
        catch (EntryPointNotFoundException) { }
        catch (DllNotFoundException) { }
    }

    /// <summary>
    /// Drops the whole 4 KiB pages inside [address, address + bytes) of a read-only file mapping from resident memory
    /// (MADV_DONTNEED: a later read maps them again from the page cache). Never for anonymous memory, which it would zero.
    /// </summary>
    public static void Drop(IntPtr address, long bytes)
    {
        const long page = 4096;
        if (!OperatingSystem.IsLinux()) return;
        long start = ((long)address + page - 1) & ~(page - 1), end = ((long)address + bytes) & ~(page - 1);
        if (end <= start) return;
        try
        {
            Madvise((IntPtr)start, (UIntPtr)(end - start), MadviseDontNeed);
        }
        catch (EntryPointNotFoundException) { }
        catch (DllNotFoundException) { }
    }
}
