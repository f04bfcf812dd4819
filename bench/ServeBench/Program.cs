// Usage: ServeBench [--model DIR | --preset tiny|small] [--requests N] [--max-tokens N] [--rounds N]
// Starts the real server on a free loopback port, then sends N chat completions one at a time and the same N at once
// (same prompts, seeds and lengths), and prints total completion tokens/s of each and their ratio. Without --model it
// makes a random llama of the preset with the byte-level tokenizer in a temp folder. Each mode runs --rounds times
// (after one warm-up request) and the best round counts, since the machine is shared.
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Server;
using R1Sharp.Serving;

R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
int requests = int.Parse(Arg("--requests") ?? "16");
int maxTokens = int.Parse(Arg("--max-tokens") ?? "64");
int rounds = int.Parse(Arg("--rounds") ?? "3");
string preset = Arg("--preset") ?? "small";
string modelDir = Arg("--model") ?? Path.Combine(Directory.CreateTempSubdirectory("r1sharp-servebench-").FullName, $"llama-{preset}");
if (Arg("--model") is null) ModelInitializer.Create(ModelFamily.Llama, preset, modelDir, seed: 1);

await using var server = await R1Server.StartAsync(new ServerOptions(modelDir)
{
    Port = 0,
    Serving = new ServingOptions { MaxBatch = requests, MaxQueue = requests },
});
using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(30) };

// Different questions (so different prompt lengths), each with its own seed; every completion may end early at EOS,
// so tokens are counted from the usage the server reports.
async Task<int> Complete(int i, int tokens)
{
    var body = new
    {
        messages = new[] { new { role = "user", content = $"Question {i}: what is {i} + {i * 7}? " + new string('?', i % 5 * 4) } },
        max_tokens = tokens, temperature = 0.6, seed = i,
    };
    using var response = await http.PostAsJsonAsync("v1/chat/completions", body);
    response.EnsureSuccessStatusCode();
    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
}

async Task<(int Tokens, double Seconds)> Run(bool together)
{
    var clock = Stopwatch.StartNew();
    int total = 0;
    if (together) total = (await Task.WhenAll(Enumerable.Range(0, requests).Select(i => Complete(i, maxTokens)))).Sum();
    else for (int i = 0; i < requests; i++) total += await Complete(i, maxTokens);
    return (total, clock.Elapsed.TotalSeconds);
}

await Complete(0, 8); // warm-up: JIT, first allocations
var config = server.Service.Bundle.Model.Config;
Console.WriteLine($"model {Path.GetFileName(modelDir)}: {config.Family} hidden {config.HiddenSize}, {config.NumHiddenLayers} layers, vocab {config.VocabSize}; " +
                  $"{requests} requests × max {maxTokens} tokens, best of {rounds} rounds, {Environment.ProcessorCount} cores");
var best = new Dictionary<bool, (int Tokens, double Seconds)>();
for (int round = 0; round < rounds; round++)
    foreach (bool together in new[] { false, true })
    {
        var result = await Run(together);
        Console.WriteLine($"  round {round + 1} {(together ? "concurrent" : "sequential")}: {result.Tokens} tokens in {result.Seconds:F2} s = {result.Tokens / result.Seconds:F0} tokens/s");
        if (!best.TryGetValue(together, out var b) || result.Tokens / result.Seconds > b.Tokens / b.Seconds) best[together] = result;
    }
double sequential = best[false].Tokens / best[false].Seconds, concurrent = best[true].Tokens / best[true].Seconds;
Console.WriteLine($"| {Path.GetFileName(modelDir)} | {requests} | {maxTokens} | {sequential:F0} | {concurrent:F0} | **{concurrent / sequential:F1}×** | {server.Service.Batcher.Stats.LargestBatch} |");
