using R1Sharp.Model;
using R1Sharp.Tokenizers;
using TorchSharp;

namespace R1Sharp.Checkpoints;

/// <summary>`r1 init`: a randomly initialised model of a preset shape, saved with its tokenizer in the HF layout.</summary>
public static class ModelInitializer
{
    /// <param name="tokenizerPath">tokenizer.json or a folder with it; null writes the byte-level tokenizer.</param>
    public static ModelConfig Create(ModelFamily family, string preset, string outDir, int seed, string? tokenizerPath = null,
        string dtype = "float32")
    {
        // Everything is checked before anything is written.
        HfTokenizer? loaded = tokenizerPath is null ? null : TokenizerLoader.Load(tokenizerPath);
        ITextTokenizer tokenizer = loaded ?? (ITextTokenizer)new ByteTokenizer();
        var config = ModelPresets.Create(family, preset, tokenizer.VocabSize) with
        {
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosId is int eos ? [eos] : [],
            PadTokenId = tokenizer.PadId,
        };
        Directory.CreateDirectory(outDir);
        if (loaded is null) ((ByteTokenizer)tokenizer).Save(outDir);
        else TokenizerLoader.Save(outDir, loaded.Definition, loaded.Config ?? TokenizerConfig.ForOwnTokenizers);
        torch.manual_seed(seed);
        using var model = new CausalLanguageModel(config);
        ModelCheckpoint.Save(model, outDir, dtype);
        return model.Config;
    }
}
