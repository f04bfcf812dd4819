using LLama;
using LLama.Native;
using R1Sharp.Gguf;

namespace R1Sharp.Reference;

/// <summary>llama.cpp's llama-quantize (through LLamaSharp): the reference our quantized files are compared with and benchmarked on.</summary>
public static class LlamaCppQuantizer
{
    public static LLamaFtype FileType(GgufDType type) => type switch
    {
        GgufDType.F32 => LLamaFtype.ALL_F32,
        GgufDType.F16 => LLamaFtype.MOSTLY_F16,
        GgufDType.Q8_0 => LLamaFtype.MOSTLY_Q8_0,
        GgufDType.Q4_0 => LLamaFtype.MOSTLY_Q4_0,
        GgufDType.Q4_K_M => LLamaFtype.MOSTLY_Q4_K_M,
        GgufDType.Q5_K_M => LLamaFtype.MOSTLY_Q5_K_M,
        _ => LLamaFtype.MOSTLY_Q6_K,
    };

    /// <summary>Quantizes <paramref name="input"/> (an f32 or f16 GGUF file) to <paramref name="output"/> as llama-quantize does.</summary>
    public static void Quantize(string input, string output, GgufDType type, int threads = 0)
    {
        LlamaCppModel.LoadNative();
        if (!LLamaQuantizer.Quantize(input, output, FileType(type), threads, allowRequantize: false, quantizeOutputTensor: true))
            throw new R1Error($"llama.cpp could not quantize {input} to {type}:\n{LlamaCppModel.RecentLog()}");
    }
}
