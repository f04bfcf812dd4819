using R1Sharp.Checkpoints;
using R1Sharp.Model;
using TorchSharp;

namespace R1Sharp.Distillation;

/// <summary>
/// Smaller students of a teacher's family for `r1 distill --student-preset`: "half" and "quarter" scale the teacher
/// down (layers, width, heads, MLP and, for DeepSeek-V3, the MLA ranks and expert width by 2 or 4, per-head widths
/// kept), "tiny" and "small" are <see cref="ModelPresets"/>. Vocabulary, special tokens, context and RoPE are the
/// teacher's, so the student uses the teacher's tokenizer unchanged.
/// </summary>
public static class StudentShapes
{
    public static IReadOnlyList<string> Names { get; } = ["half", "quarter", .. ModelPresets.Names];

    public static ModelConfig Create(ModelConfig teacher, string name)
    {
        var shape = name switch
        {
            "half" => Scaled(teacher, 2),
            "quarter" => Scaled(teacher, 4),
            _ when ModelPresets.Names.Contains(name) => ModelPresets.Create(teacher.Family, name, teacher.VocabSize) with
            {
                MaxPositionEmbeddings = teacher.MaxPositionEmbeddings, RopeTheta = teacher.RopeTheta, RopeScaling = teacher.RopeScaling,
            },
            _ => throw new R1Error($"unknown student shape '{name}' (expected {string.Join(", ", Names)})"),
        };
        shape = shape with { BosTokenId = teacher.BosTokenId, EosTokenIds = teacher.EosTokenIds, PadTokenId = teacher.PadTokenId, TorchDtype = "float32" };
        return shape.Validate($"student shape '{name}' of the teacher");
    }

    /// <summary>A freshly initialised student (seeded) that shares the teacher's tokenizer and chat template.</summary>
    public static ModelBundle Build(ModelBundle teacher, string name, int seed)
    {
        var config = Create(teacher.Model.Config, name);
        torch.manual_seed(seed);
        return teacher with { Model = new CausalLanguageModel(config), Directory = $"{teacher.Directory} ({name} student)" };
    }

    static ModelConfig Scaled(ModelConfig t, int factor)
    {
        int Down(int value) => Math.Max(1, value / factor);
        int heads = Down(t.NumAttentionHeads);
        // Keep the per-head width: fewer heads make the model narrower.
        int hidden = t.IsMla || t.HeadDim is not null ? Down(t.HiddenSize) : heads * t.GqaHeadDim;
        int kvHeads = Down(t.NumKeyValueHeads);
        while (heads % kvHeads != 0) kvHeads--;
        int layers = Down(t.NumHiddenLayers);
        return t with
        {
            NumHiddenLayers = layers, HiddenSize = hidden, NumAttentionHeads = heads, NumKeyValueHeads = t.IsMla ? heads : kvHeads,
            IntermediateSize = Down(t.IntermediateSize),
            QLoraRank = t.QLoraRank is int q and > 0 ? Down(q) : t.QLoraRank, KvLoraRank = Down(t.KvLoraRank),
            MoeIntermediateSize = t.MoeIntermediateSize > 0 ? Down(t.MoeIntermediateSize) : 0,
            FirstKDenseReplace = Math.Min(t.FirstKDenseReplace, layers),
        };
    }
}
