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

    public static TheoryData<string, string, string> HostileIds => new()
    {
        { "\"ā\": 1,", "\"ā\": 0,", "model.vocab gives id 0 to both \"Ā\" and \"ā\"" },
        { "\"ā\": 1,", "\"ā\": -1,", "model.vocab token \"ā\" has id -1" },
        { "\"ā\": 1,", "\"ā\": 2147483647,", "model.vocab token \"ā\" has id 2147483647" },
        { "\"ā\": 1,", "\"ā\": 1e30,", "model.vocab token \"ā\" has id 1e30" },
        { "\"id\": 257,", "\"id\": 256,", "added_tokens gives id 256 to both \"<｜begin▁of▁sentence｜>\" and \"<｜end▁of▁sentence｜>\"" },
        { "\"id\": 257,", "\"id\": 65,", "added token \"<｜end▁of▁sentence｜>\" has id 65, which model.vocab gives to \"A\"" },
        { "\"id\": 257,", "\"id\": -5,", "added token \"<｜end▁of▁sentence｜>\" has id -5" },
        { "\"id\": 257,", "\"id\": 2147483647,", "added token \"<｜end▁of▁sentence｜>\" has id 2147483647" },
        { "\"content\": \"<｜end▁of▁sentence｜>\"", "\"content\": \"<｜begin▁of▁sentence｜>\"", "added_tokens has \"<｜begin▁of▁sentence｜>\" twice, as ids 256 and 257" },
    };

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void TwoTokensOnOneIdAndOutOfRangeIdsAreRefusedNamingTheFileAndToken(string from, string to, string problem)
    {
        string json = ByteTokenizerJson;
        int at = json.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, from);
        string path = Write("tokenizer.json", json[..at] + to + json[(at + from.Length)..]);
        var e = Assert.Throws<R1Error>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["tokenize", "--tokenizer", path, "--text", "hi"]));
    }

    [Fact]
    public void A_pre_tokenizer_regex_that_backtracks_for_seconds_is_refused_naming_the_file()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(ByteTokenizerJson)!;
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "(a+)+(?=b)|\\s+";
        string path = Write("tokenizer.json", json.ToJsonString());
        var e = Assert.Throws<R1Error>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("(a+)+(?=b)", e.Message);
        Assert.Equal(2, R1Sharp.Cli.CliApp.Run(["tokenize", "--tokenizer", path, "--text", new string('a', 29)]));
    }

    [Fact]
    public void ConfigTokenMissingFromTheVocabularyIsNamed()
    {
        Write("tokenizer.json", ByteTokenizerJson);
        Write("tokenizer_config.json", "{\"bos_token\": {\"content\": \"<s>\"}}");
        Assert.Contains("bos_token '<s>'", Assert.Throws<R1Error>(() => TokenizerLoader.Load(dir)).Message);
    }
}
