using R1Sharp.Model;

namespace R1Sharp.Checkpoints;

/// <summary>One weight file as its header describes it.</summary>
public sealed record WeightFile(string Path, long Bytes, int Tensors, long Elements);

/// <summary>
/// A model directory's weights checked against its config without reading a weight byte: every file's header and
/// tensor table (model.safetensors, or the shards model.safetensors.index.json lists), each tensor's byte range
/// against its file's size, and the names, shapes and dtypes against the tensors the config implies
/// (<see cref="ModelStats.ExpectedShapes"/>). `r1 inspect` reports it; loading a model runs it before allocating.
/// </summary>
/// <param name="Parameters">Elements of the weights found, routing-bias buffers aside (comparable to <see cref="ModelStats.TotalParameters"/>).</param>
/// <param name="ExpectedParameters">The config's count, <see cref="ModelStats.TotalParameters"/>.</param>
/// <param name="SkippedMtpTensors">DeepSeek's multi-token-prediction layers (index ≥ num_hidden_layers): kept in checkpoints, not loaded.</param>
public sealed record WeightCheck(IReadOnlyList<WeightFile> Files, int Tensors, long Parameters, long ExpectedParameters,
    IReadOnlyDictionary<string, long> ElementsByDtype, int SkippedMtpTensors)
{
    /// <summary>Dtypes a model loads from (converting to its own); any other dtype is not a model weight.</summary>
    static readonly string[] FloatDtypes = ["F32", "F16", "BF16", "F64"];

    /// <summary>Problems listed in one error; a hostile header could otherwise make the message as long as itself.</summary>
    const int MaxListedProblems = 20;

    /// <summary>Checks the weights in <paramref name="dir"/>; throws one R1Error naming every file and tensor that does not fit.</summary>
    public static WeightCheck Run(string dir, ModelConfig config)
    {
        var headers = HfWeights.ReadHeaders(dir);
        var expected = ModelStats.ExpectedShapes(config);
        var problems = new List<string>();
        var found = new HashSet<string>(StringComparer.Ordinal);
        var files = new List<WeightFile>(headers.Count);
        var byDtype = new SortedDictionary<string, long>(StringComparer.Ordinal);
        int tensors = 0, skipped = 0;
        long parameters = 0;
        foreach (var (path, header) in headers)
        {
            string file = Path.GetFileName(path);
            long fileElements = 0;
            foreach (var entry in header.InDataOrder)
            {
                long elements = ModelStats.Elements(entry.Shape);
                fileElements = checked(fileElements + elements);
                if (IsMtpLayer(entry.Name, config.NumHiddenLayers))
                {
                    skipped++;
                    continue;
                }
                if (IsTiedHeadCopy(entry.Name, config)) continue;
                tensors++;
                byDtype[entry.Dtype] = checked(byDtype.GetValueOrDefault(entry.Dtype) + elements);
                if (!entry.Name.EndsWith(ModelStats.RoutingBiasSuffix)) parameters = checked(parameters + elements);
                string tensor = $"{file}: tensor {SafeTensorsHeader.Quote(entry.Name)}";
                if (!expected.TryGetValue(entry.Name, out var shape))
                {
                    problems.Add($"{tensor} (shape {Shape(entry.Shape)}) is not part of a {ModelConfig.TypeName(config.Family)} model of this config");
                    continue;
                }
                found.Add(entry.Name);
                if (!entry.Shape.SequenceEqual(shape)) problems.Add($"{tensor} has shape {Shape(entry.Shape)}, but config.json makes it {Shape(shape)}");
                if (!FloatDtypes.Contains(entry.Dtype)) problems.Add($"{tensor} is {entry.Dtype}; model weights must be one of {string.Join(", ", FloatDtypes)}");
            }
            files.Add(new WeightFile(path, new FileInfo(path).Length, header.Tensors.Count, fileElements));
        }
        var missing = expected.Where(kv => !found.Contains(kv.Key)).ToList();
        // A sharded checkpoint lists its tensors in the index, so a missing one is missing there.
        string where = headers.Count == 1 ? Path.GetFileName(headers[0].Path) : HfWeights.IndexFileName;
        problems.AddRange(missing.Select(kv => $"{where}: no tensor '{kv.Key}' (shape {Shape(kv.Value)}), which config.json requires"));
        if (problems.Count > 0)
        {
            var listed = problems.Take(MaxListedProblems).Append(problems.Count > MaxListedProblems ? $"... and {problems.Count - MaxListedProblems} more" : null);
            throw new R1Error($"{dir}: the weights do not match config.json ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):\n  "
                              + string.Join("\n  ", listed.OfType<string>()));
        }
        return new WeightCheck(files, tensors, parameters, ModelStats.Of(config).TotalParameters, byDtype, skipped);
    }

    /// <summary>A multi-token-prediction layer of DeepSeek-V3 (model.layers.N with N ≥ num_hidden_layers).</summary>
    internal static bool IsMtpLayer(string name, int layers) =>
        name.StartsWith("model.layers.") && int.TryParse(name.Split('.')[2], out int i) && i >= layers;

    /// <summary>
    /// lm_head.weight in a checkpoint of a tied model: some store the head anyway (a copy of the embedding, as
    /// Qwen3-0.6B's does); HF ties it to the embedding at load, and so does <see cref="ModelCheckpoint.Load"/>.
    /// </summary>
    internal static bool IsTiedHeadCopy(string name, ModelConfig config) => config.TieWordEmbeddings && name == "lm_head.weight";

    /// <summary>Tensors a checkpoint may hold that loading leaves out: MTP layers and a tied model's head copy.</summary>
    internal static bool IsNotLoaded(string name, ModelConfig config) =>
        IsMtpLayer(name, config.NumHiddenLayers) || IsTiedHeadCopy(name, config);

    static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";
}
