using static TorchSharp.torch;

namespace R1Sharp.Checkpoints;

/// <summary>
/// A safetensors dtype string, its width in bits, and the TorchSharp type it loads as.
/// <see cref="TorchType"/> is null for dtypes the format defines but TorchSharp has no type for (FP8, unsigned
/// 16-64 bit, sub-byte floats): headers holding them still validate, loading them is an error.
/// </summary>
public sealed record SafeTensorsDtype(string Name, int Bits, ScalarType? TorchType)
{
    /// <summary>Every dtype of the safetensors spec (safetensors/src/tensor.rs).</summary>
    public static readonly IReadOnlyList<SafeTensorsDtype> All =
    [
        new("BOOL", 8, ScalarType.Bool),
        new("U8", 8, ScalarType.Byte),
        new("I8", 8, ScalarType.Int8),
        new("I16", 16, ScalarType.Int16),
        new("I32", 32, ScalarType.Int32),
        new("I64", 64, ScalarType.Int64),
        new("F16", 16, ScalarType.Float16),
        new("BF16", 16, ScalarType.BFloat16),
        new("F32", 32, ScalarType.Float32),
        new("F64", 64, ScalarType.Float64),
        new("C64", 64, ScalarType.ComplexFloat32),
        new("U16", 16, null),
        new("U32", 32, null),
        new("U64", 64, null),
        new("F8_E5M2", 8, null),
        new("F8_E4M3", 8, null),
        new("F8_E8M0", 8, null),
        new("F8_E4M3FNUZ", 8, null),
        new("F8_E5M2FNUZ", 8, null),
        new("F6_E2M3", 6, null),
        new("F6_E3M2", 6, null),
        new("F4", 4, null),
    ];

    static readonly Dictionary<string, SafeTensorsDtype> ByName = All.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>The dtype with this exact (case-sensitive, as in the spec) name, or null.</summary>
    public static SafeTensorsDtype? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>The dtype a TorchSharp tensor of type <paramref name="type"/> is stored as.</summary>
    public static SafeTensorsDtype For(ScalarType type) =>
        All.FirstOrDefault(d => d.TorchType == type)
        ?? throw new R1Error($"tensors of type {type} cannot be saved as safetensors (supported: "
                             + string.Join(", ", All.Where(d => d.TorchType is not null).Select(d => $"{d.TorchType}")) + ")");

    public static string KnownNames => string.Join(", ", All.Select(d => d.Name));
}
