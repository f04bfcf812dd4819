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
        Directory.CreateDirectory(outDir);
        ITextTokenizer tokenizer;
        if (tokenizerPath is null)
        {
            var bytes = new ByteTokenizer();
            bytes.Save(outDir);
            tokenizer = bytes;
        }
        else
        {
            var loaded = TokenizerLoader.Load(tokenizerPath);
            TokenizerLoader.Save(outDir, loaded.Definition, loaded.Config ?? TokenizerConfig.ForOwnTokenizers);
            tokenizer = loaded;
        }
        var config = ModelPresets.Create(family, preset, tokenizer.VocabSize) with
        {
            BosTokenId = tokenizer.BosId,
            EosTokenIds = tokenizer.EosId is int eos ? [eos] : [],
            PadTokenId = tokenizer.PadId,
        };
        torch.manual_seed(seed);
        using var model = new CausalLanguageModel(config);
        ModelCheckpoint.Save(model, outDir, dtype);
        return model.Config;
    }
}
