namespace R1Sharp.Tokenizers;

/// <summary>Reads and writes a tokenizer folder: tokenizer.json plus tokenizer_config.json, as Hugging Face lays them out.</summary>
public static class TokenizerLoader
{
    public const string TokenizerFileName = "tokenizer.json";
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>
    /// Loads from a folder holding tokenizer.json, or from the tokenizer.json file itself. tokenizer_config.json beside it
    /// (BOS/EOS/PAD and the chat template) is read when present.
    /// </summary>
    public static HfTokenizer Load(string pathOrDir)
    {
        string tokenizerPath;
        if (Directory.Exists(pathOrDir))
        {
            tokenizerPath = Path.Combine(pathOrDir, TokenizerFileName);
            if (!File.Exists(tokenizerPath)) throw new R1Error($"{pathOrDir} has no {TokenizerFileName}");
        }
        else if (File.Exists(pathOrDir)) tokenizerPath = pathOrDir;
        else throw new R1Error($"tokenizer not found: {pathOrDir} (expected a {TokenizerFileName} file or a folder holding one)");

        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerPath))!, ConfigFileName);
        return HfTokenizer.Load(tokenizerPath, File.Exists(configPath) ? configPath : null);
    }

    public static void Save(string directory, TokenizerJson definition, TokenizerConfig config)
    {
        Directory.CreateDirectory(directory);
        definition.Save(Path.Combine(directory, TokenizerFileName));
        config.Save(Path.Combine(directory, ConfigFileName));
    }
}
