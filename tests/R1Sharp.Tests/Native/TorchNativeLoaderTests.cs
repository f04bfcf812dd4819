using System.Text;
using R1Sharp.Native;

namespace R1Sharp.Tests.Native;

public class TorchNativeLoaderTests
{
    static string ShimFromPackage()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Data", "unpatched", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp's native shim as shipped should be copied to {path}");
        return path;
    }

    [Fact]
    public void Detects_whether_a_library_defines_a_symbol_version()
    {
        using var dir = new TempDir();
        string old = Path.Combine(dir, "old.so"), current = Path.Combine(dir, "new.so");
        File.WriteAllBytes(old, Encoding.ASCII.GetBytes("\0GLIBCXX_3.4.30\0GLIBCXX_3.4.31\0"));
        File.WriteAllBytes(current, Encoding.ASCII.GetBytes("\0GLIBCXX_3.4.31\0GLIBCXX_3.4.32\0"));
        Assert.False(TorchNativeLoader.LibraryDefinesVersion(old, TorchNativeLoader.NeededVersion));
        Assert.True(TorchNativeLoader.LibraryDefinesVersion(current, TorchNativeLoader.NeededVersion));
        // "GLIBCXX_3.4.3" is a prefix of the needed version and must not count as it.
        File.WriteAllBytes(old, Encoding.ASCII.GetBytes("\0GLIBCXX_3.4.3\0"));
        Assert.False(TorchNativeLoader.LibraryDefinesVersion(old, TorchNativeLoader.NeededVersion));
    }

    [Fact]
    public void Finds_the_libstdcxx_this_process_uses()
    {
        if (!OperatingSystem.IsLinux()) return;
        string? path = TorchNativeLoader.FindLibStdCxx();
        Assert.NotNull(path);
        Assert.Contains("libstdc++", path);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void Patching_makes_the_version_weak_and_unversions_only_the_symbols_that_needed_it()
    {
        using var dir = new TempDir();
        string copy = dir.File("libLibTorchSharp.so");
        byte[] original = File.ReadAllBytes(ShimFromPackage());
        File.WriteAllBytes(copy, original);
        var before = ElfVersionNeedPatch.Inspect(original, TorchNativeLoader.NeededVersion);
        Assert.True(before.Found);
        Assert.False(before.AlreadyWeak);
        Assert.Equal(["_ZSt21ios_base_library_initv"], before.UnversionedSymbols);

        bool changed = TorchNativeLoader.PatchFile(copy);
        var after = ElfVersionNeedPatch.Inspect(File.ReadAllBytes(copy), TorchNativeLoader.NeededVersion);
        Assert.True(after.Found);
        Assert.True(after.AlreadyWeak);
        Assert.Empty(after.UnversionedSymbols); // nothing is bound to the version any more
        Assert.True(changed);
        Assert.Equal(original.Length, new FileInfo(copy).Length);

        // A second run changes nothing.
        Assert.False(TorchNativeLoader.PatchFile(copy));
    }

    [Fact]
    public void A_file_that_is_not_elf_is_rejected_clearly()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeedPatch.Inspect(Encoding.ASCII.GetBytes("not an elf file at all, really not, no"), "X"));
        Assert.Contains("ELF", e.Message);
    }
}
