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
        if (bytes < 2 * PageSize) return;
        // MADV_HUGEPAGE keeps the range eligible (THP is often "madvise" only); MADV_COLLAPSE (Linux 6.1+) applies it at once.
        if (AdviseWholePages(address, bytes, PageSize, MadviseHugePage)) AdviseWholePages(address, bytes, PageSize, MadviseCollapse);
    }

    /// <summary>
    /// Drops the whole 4 KiB pages inside [address, address + bytes) of a read-only file mapping from resident memory
    /// (MADV_DONTNEED: a later read maps them again from the page cache). Never for anonymous memory, which it would zero.
    /// </summary>
    public static void Drop(IntPtr address, long bytes) => AdviseWholePages(address, bytes, 4096, MadviseDontNeed);

    /// <summary>madvise on the pages of <paramref name="page"/> bytes that lie wholly inside the range; false where it did not take.</summary>
    static bool AdviseWholePages(IntPtr address, long bytes, long page, int advice)
    {
        if (!OperatingSystem.IsLinux()) return false;
        long start = ((long)address + page - 1) & ~(page - 1), end = ((long)address + bytes) & ~(page - 1);
        if (end <= start) return false;
        try
        {
            return Madvise((IntPtr)start, (UIntPtr)(end - start), advice) == 0;
        }
        catch (EntryPointNotFoundException) { return false; }
        catch (DllNotFoundException) { return false; }
    }
}
