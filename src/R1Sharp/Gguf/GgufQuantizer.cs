using R1Sharp.Checkpoints;
using R1Sharp.Quantization;

namespace R1Sharp.Gguf;

/// <summary>
/// `r1 quantize`: a model folder (exported as <see cref="GgufExporter"/> does) or a GGUF file, written as a GGUF file
/// of another type with the tensor types llama.cpp's llama-quantize would choose (<see cref="QuantizationMix"/>).
/// </summary>
public static class GgufQuantizer
{
    public static void Quantize(string input, string outPath, GgufDType dtype)
    {
        if (Directory.Exists(input))
        {
            using var model = ModelCheckpoint.Load(input);
            GgufExporter.Export(model, Path.Combine(input, "tokenizer.json"), Path.Combine(input, "tokenizer_config.json"), outPath, dtype);
            return;
        }
        if (!File.Exists(input)) throw new R1Error($"{input}: no such model folder or GGUF file");
        if (Path.GetFullPath(input) == Path.GetFullPath(outPath)) throw new R1Error($"{outPath}: the output would overwrite the input");
        Requantize(GgufReader.Read(input), outPath, dtype);
    }

    /// <summary>
    /// Copies the metadata (with the new file type) and converts each tensor whose type changes: dequantized to
    /// float32, then quantized. Starting from a quantized file compounds two roundings, as llama.cpp's
    /// --allow-requantize does; quantize from the f32/f16/bf16 original when there is one.
    /// </summary>
    static void Requantize(GgufFile file, string outPath, GgufDType dtype)
    {
        string arch = file.Architecture ?? throw new R1Error($"{file.Path}: no general.architecture");
        int layers = (int)(file.Find($"{arch}.block_count")?.AsInteger() ?? throw new R1Error($"{file.Path}: no {arch}.block_count"));
        int experts = (int)(file.Find($"{arch}.expert_count")?.AsInteger() ?? 0);
        var types = QuantizationMix.Choose(dtype, file.Tensors.Select(t => new QuantizationMix.Tensor(t.Name, t.Dims, t.Type)).ToList(), layers, experts);

        var writer = new GgufWriter(Math.Max(file.Alignment, 8) / 8 * 8);
        foreach (var (key, value) in file.Metadata)
            if (key is not ("general.alignment" or "general.file_type" or "general.quantization_version")) writer.Add(key, value);
        GgufExporter.AddFileType(writer, dtype);
        foreach (var tensor in file.Tensors)
        {
            var type = types[tensor.Name];
            if (type != tensor.Type && !GgmlQuants.IsSupported(tensor.Type))
                throw new R1Error($"{file.Path}: tensor '{tensor.Name}' is {tensor.Type}, which R1Sharp cannot convert (supported: {GgmlQuants.SupportedList})");
            writer.AddTensor(tensor.Name, tensor.Shape, type, () =>
            {
                byte[] bytes = file.ReadTensorBytes(tensor);
                if (type == tensor.Type) return bytes;
                var values = new float[tensor.ElementCount];
                GgmlQuants.Dequantize(tensor.Type, bytes, values);
                return GgmlQuants.QuantizeRows(type, values, (int)tensor.Dims[0]);
            });
        }
        writer.Write(outPath);
    }
}
