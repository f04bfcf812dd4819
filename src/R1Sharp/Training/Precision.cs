using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using R1Sharp.Model;
using static TorchSharp.torch;

namespace R1Sharp.Training;

/// <summary>
/// The arithmetic of a training run's matrix products (config key <c>precision</c>, flag <c>--precision</c>), and the
/// weights generation reads (<c>--precision</c> of generate, serve, eval and sample, GRPO's <c>rollout_precision</c>;
/// see <see cref="Inference.GenerationPrecision"/>).
/// </summary>
public enum Precision
{
    /// <summary>Every product in float32.</summary>
    Fp32,
    /// <summary>Matrix products in bfloat16 (libtorch's autocast), everything else in float32: master weights, AdamW's
    /// moments, norm statistics, the loss's log-softmax, GRPO's log-probs and the policy loss's reductions.</summary>
    Bf16,
    /// <summary>Measure this run's products in both at the start and take bf16 only where it is clearly faster
    /// (<see cref="MixedPrecision.ClearlyFaster"/>).</summary>
    Auto,
}

/// <summary>The precision a run trains in and why (what auto measured, or that it was asked for, or resumed).</summary>
public sealed record PrecisionChoice(Precision Precision, string Reason)
{
    public static readonly PrecisionChoice Fp32 = new(Precision.Fp32, "fp32 (asked for)");

    /// <summary>The region a model's forward and loss run in: libtorch's bf16 autocast on <paramref name="device"/> for
    /// bf16, nothing for fp32. Backward and the optimizer step run outside it, as torch recommends.</summary>
    public IDisposable Autocast(Device device) => Precision == Precision.Bf16 ? Training.Autocast.On(device) : NoRegion.Instance;

    sealed class NoRegion : IDisposable
    {
        public static readonly NoRegion Instance = new();
        public void Dispose() { }
    }
}

/// <summary>One matrix product of a training step: [Rows, In] × [In, Out] (a weight [Out, In]), Count times per forward.</summary>
public sealed record ProductShape(long Rows, long In, long Out, int Count)
{
    /// <summary>Floating-point operations of the forward product and its two backward products.</summary>
    public double TrainingFlops => 3 * 2.0 * Rows * In * Out;
}

/// <summary>Seconds one forward + backward of <paramref name="shape"/>'s products take in <paramref name="dtype"/> on
/// <paramref name="device"/> (one of them, not Count). Tests inject their own.</summary>
public delegate double ProductTimer(ProductShape shape, ScalarType dtype, Device device);

/// <summary>
/// The one place that decides a training run's precision. fp32 and bf16 are taken as asked; auto measures the run's own
/// matrix products — every distinct weight shape of the model, at the run's rows per micro-batch (at most
/// <see cref="MeasuredRows"/>), the forward product and both backward ones, bf16 with its casts from fp32 — and takes
/// bf16 only when the whole step's products run at least <see cref="ClearlyFaster"/> times faster than in fp32.
/// The margin keeps timing noise and the work outside the products (casts, norms, the optimizer) from turning the
/// choice into a slowdown, and keeps a machine whose bf16 is about as fast as its fp32 at fp32 (same numbers as before).
/// CUDA takes the same path: autocast on the device type of the model.
/// </summary>
public static class MixedPrecision
{
    /// <summary>bf16 is taken when the step's products run at least this many times faster than in fp32.</summary>
    public const double ClearlyFaster = 1.3;

    /// <summary>Rows of the measured products: enough for the GEMM to reach its speed, few enough to take a moment.</summary>
    public const int MeasuredRows = 512;

    // A process decides once per shape set, so two runs of one process (tests, the quickstart's stages) agree.
    static readonly ConcurrentDictionary<string, PrecisionChoice> Decided = new();

    /// <summary>
    /// The precision of a run starting or resuming: <paramref name="recorded"/> (what its checkpoint trained in) when it
    /// resumes — an explicit different <paramref name="requested"/> is an error, since a run changing its arithmetic half
    /// way is no longer the run — otherwise <see cref="Decide"/>.
    /// </summary>
    public static PrecisionChoice ForRun(Precision requested, Precision? recorded, CausalLanguageModel model, long rowsPerMicroBatch,
        ProductTimer? timer = null)
    {
        if (recorded is { } before)
        {
            if (requested != Precision.Auto && requested != before)
                throw new R1Error($"precision: the run trained in {SnakeCase.Name(before)} (its checkpoint's trainer_state.json) and resumes in it; " +
                                  $"'{SnakeCase.Name(requested)}' would change its arithmetic half way (resume with --precision {SnakeCase.Name(before)} or auto)");
            return before == Precision.Bf16 && !Autocast.IsAvailable
                ? throw new R1Error($"precision: the run trained in bf16, but this libtorch has no autocast to resume it with ({Autocast.Unavailable})")
                : new PrecisionChoice(before, $"{SnakeCase.Name(before)} (the run's checkpoint trained in it)");
        }
        return Decide(requested, model.Device, Shapes(model, rowsPerMicroBatch), timer);
    }

    /// <summary>
    /// fp32 or bf16 as asked (bf16 needs libtorch's autocast), or auto's choice from <paramref name="timer"/>'s seconds
    /// (default: <see cref="TimeProducts"/>, remembered per device, threads and shapes in this process and in this
    /// machine's <see cref="PrecisionMemo"/>; an injected timer is asked every time unless a memo is given too).
    /// </summary>
    public static PrecisionChoice Decide(Precision requested, Device device, IReadOnlyList<ProductShape> shapes, ProductTimer? timer = null,
        PrecisionMemo? memo = null)
    {
        switch (requested)
        {
            case Precision.Fp32:
                return PrecisionChoice.Fp32;
            case Precision.Bf16:
                return Autocast.IsAvailable ? new PrecisionChoice(Precision.Bf16, "bf16 (asked for)")
                    : throw new R1Error($"precision: bf16 needs libtorch's autocast, which this libtorch lacks ({Autocast.Unavailable}); use fp32");
        }
        if (!Autocast.IsAvailable)
            return new PrecisionChoice(Precision.Fp32, $"fp32: auto cannot use bf16 here ({Autocast.Unavailable})");
        string key = $"{PrecisionMemo.Machine()}|{device}|{get_num_threads()} threads|{string.Join(";", shapes)}";
        if (timer is not null) return memo is null ? Measure(shapes, device, timer) : memo.GetOrMeasure(key, () => Measure(shapes, device, timer));
        return Decided.GetOrAdd(key, _ => (memo ?? PrecisionMemo.ForMachine()).GetOrMeasure(key, () => Measure(shapes, device, TimeProducts)));
    }

    static PrecisionChoice Measure(IReadOnlyList<ProductShape> shapes, Device device, ProductTimer timer)
    {
        if (shapes.Count == 0) return new PrecisionChoice(Precision.Fp32, "fp32: auto found no matrix products to measure");
        // Smallest first, so a machine whose bf16 is hopeless (AVX2 emulation, ~1 GFLOP/s) is found out on a cheap
        // product and stops there.
        var ordered = shapes.OrderBy(s => s.TrainingFlops).ToList();
        double fp32 = ordered.Sum(s => s.Count * timer(s, float32, device));
        double budget = fp32 / ClearlyFaster, bf16 = 0;
        int measured = 0;
        foreach (var shape in ordered)
        {
            bf16 += shape.Count * timer(shape, bfloat16, device);
            measured++;
            if (bf16 > budget) break;
        }
        string products = $"{shapes.Sum(s => s.Count)} products of {shapes.Count} shapes, {ordered[0].Rows} rows";
        string rule = $"bf16 is taken when at least {ClearlyFaster.ToString(CultureInfo.InvariantCulture)}× faster";
        if (bf16 > budget)
        {
            string bf16Part = measured < ordered.Count ? $"bf16 already {Ms(bf16)} after {measured} of {ordered.Count} shapes" : $"bf16 {Ms(bf16)}";
            return new PrecisionChoice(Precision.Fp32, $"fp32: auto measured this run's {products}: fp32 {Ms(fp32)}, {bf16Part} " +
                                                       $"({Speedup(fp32, bf16)}; {rule})");
        }
        return new PrecisionChoice(Precision.Bf16, $"bf16: auto measured this run's {products}: fp32 {Ms(fp32)}, bf16 {Ms(bf16)} " +
                                                   $"({Speedup(fp32, bf16)}; {rule})");
    }

    static string Ms(double seconds) => $"{(seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture)} ms";

    static string Speedup(double fp32, double bf16) => bf16 <= 0 ? "bf16 faster"
        : $"bf16 {(fp32 / bf16).ToString("F2", CultureInfo.InvariantCulture)}× the speed of fp32";

    /// <summary>
    /// The distinct matrix products of one forward of <paramref name="model"/> at <paramref name="rows"/> tokens (at most
    /// <see cref="MeasuredRows"/>): one per weight matrix — every parameter of two dimensions except the input embedding
    /// table, which is looked up, not multiplied (a tied output head multiplies it once), and MoE routers, which stay fp32.
    /// </summary>
    public static IReadOnlyList<ProductShape> Shapes(CausalLanguageModel model, long rows)
    {
        long measured = Math.Clamp(rows, 1, MeasuredRows);
        var embedding = model.Config.TieWordEmbeddings ? null : "model.embed_tokens.weight";
        return model.named_parameters()
            .Where(p => p.parameter.dim() == 2 && p.name != embedding && !p.name.EndsWith(".gate.weight"))
            .GroupBy(p => (In: p.parameter.shape[1], Out: p.parameter.shape[0]))
            .Select(g => new ProductShape(measured, g.Key.In, g.Key.Out, g.Count()))
            .OrderBy(s => s.In).ThenBy(s => s.Out).ToList();
    }

    /// <summary>
    /// The real timer: the best of two timed passes (after one warm-up) of x·Wᵀ, dY·W and dYᵀ·x, in bf16 with the casts
    /// autocast makes (x and W from fp32, W's gradient back to fp32).
    /// </summary>
    public static double TimeProducts(ProductShape shape, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator(0, device);
        var x = randn([shape.Rows, shape.In], generator: generator, device: device);
        var w = randn([shape.Out, shape.In], generator: generator, device: device);
        var dy = randn([shape.Rows, shape.Out], generator: generator, device: device).to(dtype);
        double Pass()
        {
            using var pass = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var (xs, ws) = dtype == float32 ? (x, w) : (x.to(dtype), w.to(dtype));
            nn.functional.linear(xs, ws);
            dy.mm(ws);
            dy.t().mm(xs).to(float32);
            if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
            return clock.Elapsed.TotalSeconds;
        }
        Pass();
        return Math.Min(Pass(), Pass());
    }
}

/// <summary>
/// libtorch's autocast switch (torch.autocast), which TorchSharp 0.107 does not wrap: at::autocast's functions, called
/// straight from libtorch_cpu's exports. Inside <see cref="On"/>, libtorch runs linear, matmul and attention in bf16
/// and keeps its fp32 list (losses, norms' reductions) in fp32; the weights stay fp32 parameters and get fp32
/// gradients through the cast. The state is per thread, like torch's.
/// </summary>
public static class Autocast
{
    // c10::ScalarType::BFloat16; DeviceType and ScalarType are one-byte enums in c10 and in TorchSharp alike.
    const sbyte BFloat16 = 15;

    sealed unsafe class Entries
    {
        public delegate* unmanaged<sbyte, byte> IsEnabled;
        public delegate* unmanaged<sbyte, byte, void> SetEnabled;
        public delegate* unmanaged<sbyte, sbyte> GetDtype;
        public delegate* unmanaged<sbyte, sbyte, void> SetDtype;
        public delegate* unmanaged<int> IncrementNesting;
        public delegate* unmanaged<int> DecrementNesting;
        public delegate* unmanaged<void> ClearCache;
    }

    static readonly Lazy<(Entries? Entries, string Problem)> Native = new(Load);

    /// <summary>True when this libtorch exports the autocast switch.</summary>
    public static bool IsAvailable => Native.Value.Entries is not null;

    /// <summary>Why autocast is not available (empty when it is).</summary>
    public static string Unavailable => Native.Value.Problem;

    static Entries Get => Native.Value.Entries ?? throw new R1Error($"libtorch's autocast is not available: {Unavailable}");

    /// <summary>True inside an <see cref="On"/> region for <paramref name="device"/>'s type on this thread.</summary>
    public static unsafe bool IsOn(Device device) => IsAvailable && Get.IsEnabled((sbyte)device.type) != 0;

    /// <summary>Until disposed, this thread's products on <paramref name="device"/>'s type run in bf16 (torch.autocast).</summary>
    public static IDisposable On(Device device) => new Region(device, enable: true);

    /// <summary>Until disposed, autocast is off on this thread: for the few products that must stay fp32 inside a bf16
    /// forward (the MoE router's affinities). A no-op where autocast is not available or not on.</summary>
    public static IDisposable Off(Device device) => new Region(device, enable: false);

    sealed unsafe class Region : IDisposable
    {
        readonly sbyte device;
        readonly bool wasEnabled, enable, active;
        readonly sbyte previousDtype;

        public Region(Device device, bool enable)
        {
            this.device = (sbyte)device.type;
            this.enable = enable;
            active = IsAvailable;
            if (!active) return;
            var native = Get;
            wasEnabled = native.IsEnabled(this.device) != 0;
            previousDtype = native.GetDtype(this.device);
            if (enable)
            {
                native.SetDtype(this.device, BFloat16);
                native.IncrementNesting();
            }
            native.SetEnabled(this.device, enable ? (byte)1 : (byte)0);
        }

        public void Dispose()
        {
            if (!active) return;
            var native = Get;
            // Leaving the outermost region drops the bf16 copies of weights autocast cached for it, as torch does:
            // the next step's weights differ.
            if (enable && native.DecrementNesting() == 0) native.ClearCache();
            native.SetEnabled(device, wasEnabled ? (byte)1 : (byte)0);
            native.SetDtype(device, previousDtype);
        }
    }

    static unsafe (Entries?, string) Load()
    {
        using (empty(1)) { } // TorchSharp loads libtorch on first use
        bool windows = OperatingSystem.IsWindows();
        string file = windows ? "torch_cpu.dll" : OperatingSystem.IsMacOS() ? "libtorch_cpu.dylib" : "libtorch_cpu.so";
        if (!TryLoadTorchCpu(file, out var library)) return (null, $"{file} is not loaded in this process");
        // C++ names of at::autocast's functions: Itanium (Linux, macOS) and MSVC (Windows) manglings.
        var names = windows
            ? new[]
            {
                "?is_autocast_enabled@autocast@at@@YA_NW4DeviceType@c10@@@Z", "?set_autocast_enabled@autocast@at@@YAXW4DeviceType@c10@@_N@Z",
                "?get_autocast_dtype@autocast@at@@YA?AW4ScalarType@c10@@W4DeviceType@4@@Z",
                "?set_autocast_dtype@autocast@at@@YAXW4DeviceType@c10@@W4ScalarType@4@@Z",
                "?increment_nesting@autocast@at@@YAHXZ", "?decrement_nesting@autocast@at@@YAHXZ", "?clear_cache@autocast@at@@YAXXZ",
            }
            : new[]
            {
                "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE", "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb",
                "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE", "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE",
                "_ZN2at8autocast17increment_nestingEv", "_ZN2at8autocast17decrement_nestingEv", "_ZN2at8autocast11clear_cacheEv",
            };
        var found = new IntPtr[names.Length];
        for (int i = 0; i < names.Length; i++)
            if (!NativeLibrary.TryGetExport(library, names[i], out found[i]))
                return (null, $"{file} does not export {names[i]}");
        return (new Entries
        {
            IsEnabled = (delegate* unmanaged<sbyte, byte>)found[0], SetEnabled = (delegate* unmanaged<sbyte, byte, void>)found[1],
            GetDtype = (delegate* unmanaged<sbyte, sbyte>)found[2], SetDtype = (delegate* unmanaged<sbyte, sbyte, void>)found[3],
            IncrementNesting = (delegate* unmanaged<int>)found[4], DecrementNesting = (delegate* unmanaged<int>)found[5],
            ClearCache = (delegate* unmanaged<void>)found[6],
        }, "");
    }

    /// <summary>The handle of the libtorch_cpu TorchSharp loaded: found among the process's modules, else by name beside TorchSharp.</summary>
    static bool TryLoadTorchCpu(string file, out IntPtr library)
    {
        try
        {
            foreach (ProcessModule module in Process.GetCurrentProcess().Modules)
                if (Path.GetFileName(module.FileName) == file && NativeLibrary.TryLoad(module.FileName, out library))
                    return true;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception) { }
        return NativeLibrary.TryLoad(file, typeof(TorchSharp.torch).Assembly, null, out library);
    }
}

/// <summary>
/// auto's choices on this machine, kept on disk so that every run here decides alike: a timing taken while other jobs
/// load the CPU must not make the same command train in another arithmetic (and give other numbers) tomorrow. One entry
/// per CPU, device, thread count and shape set, in $R1_CACHE_DIR/precision.json (default ~/.cache/r1sharp/); delete
/// the file to measure again. A missing, unreadable or damaged file is measured over; one that cannot be written only
/// loses the memory.
/// </summary>
public sealed class PrecisionMemo(string path)
{
    const long MaxFileBytes = 1 << 20;
    const int MaxEntries = 256;
    static readonly object Gate = new();

    sealed record Entry(Precision Precision, string Reason, DateTimeOffset MeasuredAt);

    public string Path => path;

    public static PrecisionMemo ForMachine() => new(System.IO.Path.Combine(
        Environment.GetEnvironmentVariable("R1_CACHE_DIR") is { Length: > 0 } dir ? dir
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "r1sharp"),
        "precision.json"));

    /// <summary>The CPU's model name and the flags that decide bf16's speed: another CPU type measures afresh.</summary>
    public static string Machine() => MachineName.Value;

    static readonly Lazy<string> MachineName = new(() =>
    {
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").Take(64).ToList();
            string model = lines.FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
            var flags = (lines.FirstOrDefault(l => l.StartsWith("flags"))?.Split(':', 2)[1] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] relevant = ["avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx2"];
            return $"{model} ({string.Join(" ", relevant.Where(flags.Contains))})";
        }
        catch (IOException)
        {
            return $"{RuntimeInformation.OSArchitecture} CPU";
        }
    });

    /// <summary>The remembered choice for <paramref name="key"/>, or <paramref name="measure"/>'s, remembered.</summary>
    public PrecisionChoice GetOrMeasure(string key, Func<PrecisionChoice> measure)
    {
        lock (Gate)
        {
            var entries = Read();
            if (entries.TryGetValue(key, out var seen))
                return new PrecisionChoice(seen.Precision,
                    $"{seen.Reason}; measured on this machine {seen.MeasuredAt:yyyy-MM-dd HH:mm} UTC and remembered in {path}");
            var choice = measure();
            if (entries.Count >= MaxEntries) entries.Remove(entries.MinBy(e => e.Value.MeasuredAt).Key);
            entries[key] = new Entry(choice.Precision, choice.Reason, DateTimeOffset.UtcNow);
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
                AtomicFile.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(entries, JsonOptions));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only home only loses the memory: the run still trains in what was measured.
            }
            return choice;
        }
    }

    static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.SnakeCaseLower) },
    };

    Dictionary<string, Entry> Read()
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > MaxFileBytes) return [];
            var entries = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(path), JsonOptions) ?? [];
            return entries.Count <= MaxEntries && entries.Values.All(e => e is not null && e.Reason is not null && Enum.IsDefined(e.Precision)
                && e.Precision != Precision.Auto) ? entries : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or NotSupportedException)
        {
            return [];
        }
    }
}
