using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

public class TokenizerLoaderTests : IDisposable
{
    readonly TempDir dir = new("r1-loader-");

    public void Dispose() => dir.Dispose();

    string Write(string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    // The byte tokenizer's file, edited, is a small valid tokenizer.json to break in different ways.
    static string ByteTokenizerJson => File.ReadAllText(TokenizerTestData.PathOf("byte", "tokenizer.json"));

    [Fact]
    public void LoadsAFolderOrTheFileWithTheConfigBesideIt()
    {
        Assert.Equal(256, TokenizerLoader.Load(TokenizerTestData.PathOf("byte")).BosId);
        Assert.Equal(256, TokenizerLoader.Load(TokenizerTestData.PathOf("byte", "tokenizer.json")).BosId);
        Assert.Null(TokenizerLoader.Load(Write("tokenizer.json", ByteTokenizerJson)).BosId); // no config: no BOS
    }

    [Fact]
    public void MissingFilesAreNamed()
    {
        Assert.Contains("/nowhere", Assert.Throws<R1Error>(() => TokenizerLoader.Load("/nowhere")).Message);
        Assert.Contains($"{dir} has no tokenizer.json", Assert.Throws<R1Error>(() => TokenizerLoader.Load(dir)).Message);
    }

    [Theory]
    [InlineData("{ not json", "not valid JSON")]
    [InlineData("[]", "top level must be a JSON object")]
    [InlineData("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "missing field 'model'")]
    public void BrokenFilesAreUserErrorsNamingTheFile(string content, string problem)
    {
        string path = Write("tokenizer.json", content);
        var e = Assert.Throws<R1Error>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Theory]
    [InlineData("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFKC\"}", "normalizer type 'NFKC'")]
    [InlineData("\"behavior\": \"Isolated\"", "\"behavior\": \"Removed\"", "behavior 'Removed'")]
    [InlineData("\"type\": \"BPE\"", "\"type\": \"WordPiece\"", "model.type is 'WordPiece'")]
    [InlineData("\"lstrip\": false", "\"lstrip\": true", "lstrip: true")]
    [InlineData("\"Ā\": 0,", "", "no token for byte 0x00")]
    public void UnsupportedSettingsAreRefusedByName(string from, string to, string problem)
    {
        string json = ByteTokenizerJson;
        Assert.Contains(from, json);
        int at = json.IndexOf(from, StringComparison.Ordinal);
        string path = Write("tokenizer.json", json[..at] + to + json[(at + from.Length)..]);
        Assert.Contains(problem, Assert.Throws<R1Error>(() => TokenizerLoader.Load(path)).Message);
    }

    [Fact]
    public void ConfigTokenMissingFromTheVocabularyIsNamed()
    {
        Write("tokenizer.json", ByteTokenizerJson);
        Write("tokenizer_config.json", "{\"bos_token\": {\"content\": \"<s>\"}}");
        Assert.Contains("bos_token '<s>'", Assert.Throws<R1Error>(() => TokenizerLoader.Load(dir)).Message);
    }
}
