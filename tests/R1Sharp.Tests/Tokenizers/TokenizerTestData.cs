using System.Collections.Concurrent;
using System.Text.Json;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tests.Tokenizers;

/// <summary>
/// The tokenizer files under Data/tokenizers and the reference outputs in Data/tokenizers/expected, which
/// gen-expected.mjs (in this folder) produced with Hugging Face's transformers.js; its header says how to regenerate.
/// </summary>
static class TokenizerTestData
{
    public static string Dir { get; } = Path.Combine(AppContext.BaseDirectory, "Data", "tokenizers");

    public static string PathOf(params string[] parts) => Path.Combine([Dir, .. parts]);

    static readonly ConcurrentDictionary<string, Lazy<HfTokenizer>> Loaded = new();

    /// <summary>deepseek_v3, qwen3 (real files), trained (our trainer), byte (our byte tokenizer); loaded once per run.</summary>
    public static HfTokenizer Load(string name) =>
        Loaded.GetOrAdd(name, n => new Lazy<HfTokenizer>(() => TokenizerLoader.Load(PathOf(n)))).Value;

    public sealed record ExpectedEncoding(string Text, int[] Ids, string Decoded, string DecodedSkipSpecial);

    public static IReadOnlyList<ExpectedEncoding> ExpectedEncodings(string name) => Cases<ExpectedEncoding>($"{name}.json");

    public static IReadOnlyList<T> Cases<T>(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("expected", file)));
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return doc.RootElement.GetProperty("cases").Deserialize<List<T>>(options)!;
    }

    public static string Show(string s) => JsonSerializer.Serialize(s);
}
