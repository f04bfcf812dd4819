using System.Runtime.CompilerServices;
using System.Text;

namespace R1Sharp.Native;

/// <summary>
/// Makes TorchSharp's native shim loadable on systems whose libstdc++ is older than the one it was linked
/// against (Debian 12 lacks GLIBCXX_3.4.32; the shim needs it only for an unused symbol). Every
/// <c>dotnet build</c> copies the unpatched shim again, so the check runs at start-up, before TorchSharp
/// loads its native code, and patches the copy beside the app only when the system needs it.
/// </summary>
public static partial class TorchNativeLoader
{
    public const string NeededVersion = "GLIBCXX_3.4.32";
    const string ShimFile = "libLibTorchSharp.so";

    static readonly Lock Gate = new();
    static bool done;

    /// <summary>Runs once per process; cheap after the first call.</summary>
    public static void EnsureLoadable()
    {
        lock (Gate)
        {
            if (done) return;
            done = true;
            if (!OperatingSystem.IsLinux()) return;
            string? libstdcxx = FindLibStdCxx();
            if (libstdcxx is null || LibraryDefinesVersion(libstdcxx, NeededVersion)) return;
            foreach (string shim in ShimCandidates())
                if (File.Exists(shim)) PatchFile(shim);
        }
    }

    /// <summary>
    /// Has libgomp (the OpenMP runtime libtorch uses) put idle threads to sleep at once — OMP_WAIT_POLICY=passive —
    /// unless the user set a policy. Generation interleaves libtorch's parallel ops (MLA models' attention and expert
    /// dispatch, the bf16 prompt GEMM) with R1Sharp's own worker threads on the same cores, and OpenMP threads spinning
    /// after each op took those cores: a deepseek2 file decoded 1.5× faster passive. Training, all libtorch, keeps the
    /// default (bf16 training ran 9% slower passive). libgomp reads the policy when it loads, so this must run before
    /// TorchSharp does, and setenv is only safe while the process has one thread: the CLI calls it first thing.
    /// </summary>
    public static void PreferPassiveOpenMpThreads()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            SetEnv("OMP_WAIT_POLICY", "passive", 0);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

#pragma warning disable CA2255 // R1Sharp must fix the shim before any caller touches TorchSharp.
    [ModuleInitializer]
    internal static void OnLoad() => EnsureLoadable();
#pragma warning restore CA2255

    /// <summary>True when the shared library at <paramref name="path"/> defines the symbol version.</summary>
    public static bool LibraryDefinesVersion(string path, string version)
    {
        // A version definition's name sits NUL-terminated in the library's dynamic string table.
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        byte[] bytes = File.ReadAllBytes(path);
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }

    /// <summary>The libstdc++ this process uses: the one already mapped, else the first on the usual paths.</summary>
    public static string? FindLibStdCxx()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.Contains("libstdc++.so")) return line[slash..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }

        var dirs = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                     "/usr/lib64", "/lib64", "/usr/lib", "/lib"]);
        return dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
    }

    static IEnumerable<string> ShimCandidates()
    {
        string baseDir = AppContext.BaseDirectory;
        string rid = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture ==
                     System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        yield return Path.Combine(baseDir, "runtimes", rid, "native", ShimFile);
        yield return Path.Combine(baseDir, ShimFile);
    }

    /// <summary>Patches the shim in place (temp file, then rename) unless it is already patched.</summary>
    public static bool PatchFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var found = ElfVersionNeedPatch.Inspect(bytes, NeededVersion);
        if (!found.Found || found.AlreadyWeak) return false;
        ElfVersionNeedPatch.Apply(bytes, NeededVersion);
        string temp = path + $".patch-{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
        return true;
    }
}
