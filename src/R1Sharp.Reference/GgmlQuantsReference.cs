using System.Runtime.InteropServices;
using R1Sharp.Gguf;

namespace R1Sharp.Reference;

/// <summary>
/// llama.cpp's own block quantizer and dequantizers (ggml-base, as LLamaSharp loaded it), called on raw rows: the
/// reference that R1Sharp's <see cref="R1Sharp.Quantization.GgmlQuants"/> is tested against block for block.
/// </summary>
public static unsafe class GgmlQuantsReference
{
    static readonly Lazy<IntPtr> Library = new(Load);

    /// <summary>llama.cpp's quantization of <paramref name="rows"/> rows (no importance matrix), as llama-quantize calls it.</summary>
    public static byte[] Quantize(GgmlType type, float[] values, int rows)
    {
        int perRow = values.Length / rows;
        var quantize = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)Export("ggml_quantize_chunk");
        var output = new byte[GgmlTypes.ByteSize(type, [perRow, rows]) ?? throw new ArgumentException("rows are not whole blocks")];
        fixed (float* src = values)
        fixed (byte* dst = output)
        {
            nuint written = quantize((int)type, src, dst, 0, rows, perRow, null);
            if ((long)written != output.Length) throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} bytes, expected {output.Length}");
        }
        return output;
    }

    /// <summary>llama.cpp's reference quantizer of one type by its row function (e.g. Q8_K, which files never hold).</summary>
    public static byte[] QuantizeRow(GgmlType type, float[] values)
    {
        var quantize = (delegate* unmanaged<float*, void*, long, void>)Export($"quantize_row_{Name(type)}_ref");
        var output = new byte[GgmlTypes.ByteSize(type, [values.Length]) ?? throw new ArgumentException("not whole blocks")];
        fixed (float* src = values)
        fixed (byte* dst = output)
            quantize(src, dst, values.Length);
        return output;
    }

    /// <summary>llama.cpp's dequantization of <paramref name="count"/> values from <paramref name="blocks"/>.</summary>
    public static float[] Dequantize(GgmlType type, byte[] blocks, int count)
    {
        string name = type switch
        {
            GgmlType.F16 => "ggml_fp16_to_fp32_row",
            GgmlType.BF16 => "ggml_bf16_to_fp32_row",
            _ => $"dequantize_row_{Name(type)}",
        };
        var dequantize = (delegate* unmanaged<void*, float*, long, void>)Export(name);
        var output = new float[count];
        fixed (byte* src = blocks)
        fixed (float* dst = output)
            dequantize(src, dst, count);
        return output;
    }

    /// <summary>ggml's spelling in function names: q4_0, q4_K.</summary>
    static string Name(GgmlType type) => type.ToString().ToLowerInvariant().Replace("_k", "_K");

    static IntPtr Export(string name) =>
        NativeLibrary.TryGetExport(Library.Value, name, out var address) ? address : throw new InvalidOperationException($"ggml-base has no export {name}");

    /// <summary>The ggml-base that LLamaSharp picked for this CPU: load llama.cpp through it, then find the library in the process's maps.</summary>
    static IntPtr Load()
    {
        LlamaCppModel.LoadNative();
        string? path = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
            .FirstOrDefault(p => p is not null && Path.GetFileName(p).StartsWith("libggml-base", StringComparison.Ordinal));
        if (path is null) throw new InvalidOperationException("LLamaSharp's ggml-base library is not loaded");
        return NativeLibrary.Load(path);
    }
}
