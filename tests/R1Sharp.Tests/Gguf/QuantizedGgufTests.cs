using R1Sharp.Gguf;
using R1Sharp.Reference;
using Xunit.Abstractions;

namespace R1Sharp.Tests.Gguf;

/// <summary>
/// Quantized files written by R1Sharp against llama.cpp's llama-quantize (through LLamaSharp) on the same f32 file:
/// every tensor gets the same type and, since the block quantizers round alike, the same bytes.
/// </summary>
public class QuantizedGgufTests(ITestOutputHelper output)
{
    public static readonly GgufDType[] FileTypes =
        [GgufDType.Q8_0, GgufDType.Q4_0, GgufDType.Q4_K_M, GgufDType.Q5_K_M, GgufDType.Q6_K, GgufDType.F16];

    public static IEnumerable<object[]> Cases() =>
        from variant in new[] { "llama", "qwen2", "deepseek_v3" }
        from type in FileTypes
        select new object[] { variant, type.ToString() };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportAndQuantizeWriteLlamaCppsTensorsByteForByte(string variant, string typeName)
    {
        var type = Enum.Parse<GgufDType>(typeName);
        using var dir = new TempDir();
        using var model = GgufTestModels.CreateWide(variant, layers: 10);
        string f32 = GgufTestModels.Export(model, dir.Path);
        string theirsPath = dir.File("theirs.gguf");
        LlamaCppQuantizer.Quantize(f32, theirsPath, type);
        string requantized = dir.File("requantized.gguf");
        GgufQuantizer.Quantize(f32, requantized, type);
        string exported = dir.File("exported.gguf");
        var (tokenizer, config) = TestTokenizerFiles.Write(dir.Path);
        GgufExporter.Export(model, tokenizer, config, exported, type);

        var theirs = GgufReader.Read(theirsPath);
        Assert.Equal((uint)type, theirs.Get("general.file_type").Value);
        output.WriteLine($"{variant} {type}: " + string.Join(", ", theirs.Tensors.GroupBy(t => t.Type).Select(g => $"{g.Count()} {g.Key}")));
        foreach (string path in new[] { requantized, exported })
        {
            var ours = GgufReader.Read(path);
            Assert.Equal((uint)type, ours.Get("general.file_type").Value);
            Assert.Equal(theirs.Tensors.Select(t => t.Name).Order(), ours.Tensors.Select(t => t.Name).Order());
            foreach (var t in theirs.Tensors)
            {
                var mine = ours.Tensor(t.Name);
                Assert.True(t.Type == mine.Type, $"{Path.GetFileName(path)}: {t.Name} is {mine.Type} here, {t.Type} in llama.cpp's file");
                Assert.Equal(t.Dims, mine.Dims);
                Assert.True(theirs.ReadTensorBytes(t).AsSpan().SequenceEqual(ours.ReadTensorBytes(mine)), $"{t.Name} ({t.Type}) bytes differ");
            }
        }
    }
}
