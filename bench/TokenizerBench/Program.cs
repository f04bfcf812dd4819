// Usage: TokenizerBench TOKENIZER_DIR CORPUS_JSONL [PASSES]
// Encodes every {"text"} line of the corpus PASSES times after one warm-up pass and prints one JSON line with the
// median pass (and the cold first pass): characters/s, tokens/s, and the total token count (to check both implementations agree).
// bench/tokenizers/bench.mjs does the same with transformers.js; bench/tokenizers/run.sh runs both.
using System.Diagnostics;
using System.Text.Json;
using R1Sharp.Tokenizers;

if (args.Length < 2) throw new ArgumentException("usage: TokenizerBench TOKENIZER_DIR CORPUS_JSONL [PASSES]");
int passes = args.Length > 2 ? int.Parse(args[2]) : 5;
var clock = Stopwatch.StartNew();
HfTokenizer tokenizer = TokenizerLoader.Load(args[0]);
double loadSeconds = clock.Elapsed.TotalSeconds;
string[] texts = TextCorpus.ReadJsonl(args[1]).Select(line => line.Text).ToArray();
long chars = texts.Sum(t => (long)t.Length);

long tokens = 0;
var seconds = new List<double>();
double firstPassSeconds = 0;
for (int pass = 0; pass <= passes; pass++)
{
    clock.Restart();
    tokens = 0;
    foreach (string text in texts) tokens += tokenizer.Encode(text).Count;
    if (pass == 0) firstPassSeconds = clock.Elapsed.TotalSeconds; // cold: JIT and caches warm up
    else seconds.Add(clock.Elapsed.TotalSeconds);
}
seconds.Sort();
double median = seconds[seconds.Count / 2];
Console.WriteLine(JsonSerializer.Serialize(new
{
    implementation = "R1Sharp HfTokenizer",
    tokenizer = Path.GetFileName(Path.GetFullPath(args[0]).TrimEnd('/')),
    load_seconds = Math.Round(loadSeconds, 3),
    chars,
    tokens,
    first_pass_seconds = Math.Round(firstPassSeconds, 4),
    median_seconds = Math.Round(median, 4),
    chars_per_second = Math.Round(chars / median),
    tokens_per_second = Math.Round(tokens / median),
}));
