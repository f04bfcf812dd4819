using System.Runtime.InteropServices;

namespace R1Sharp.Inference;

/// <summary>
/// Asks Linux to back large weight tensors with 2 MiB pages. Decode streams every weight once per token; with 4 KiB
/// pages each page costs a TLB walk and restarts the hardware prefetcher, and matrix-vector products measured
/// about a tenth slower. Best effort: other systems, older kernels and refusals leave the memory as it was.
/// </summary>
static partial class HugePages
{
    const int MadviseHugePage = 14, MadviseCollapse = 25;
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
}
