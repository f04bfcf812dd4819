using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using R1Sharp.Checkpoints;
using R1Sharp.Cli;
using R1Sharp.Evaluation;
using R1Sharp.Generation;
using R1Sharp.Runs;
using R1Sharp.Serving;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Rewards;
using R1Sharp.Tests.Server;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using R1ChatMessage = R1Sharp.Tokenizers.ChatMessage;

namespace R1Sharp.Tests.Generation;

/// <summary>
/// One request — prompt ids, sampling options, seed — gives the same tokens through every path that generates: the
/// offline engine, `r1 generate`, `r1 eval`'s evaluator, GRPO's rollouts, <see cref="R1ChatClient"/> and a real
/// `r1 serve` on loopback, each with other requests sharing its batch where the path allows it. The model is the
/// server tests' tiny random one at temperature 1, so different seeds (or a different stream per sample) give
/// different text.
/// </summary>
[Collection(ServerCollection.Name)]
public class SameSeedTests(ServerFixture servers)
{
    const int RunSeed = 11, MaxTokens = 24, Samples = 2;
    const double Temperature = 1.0, TopP = 0.9;
    static readonly string[] Questions = ["What is 2+2?", "Add two and three.", "hello there"];
    /// <summary>The seed of the request made for the first question of a run seeded <see cref="RunSeed"/>.</summary>
    static readonly int Seed = Seeds.ForPrompt(RunSeed, 0);
    /// <summary>The GRPO run seed whose first rollout request gets <see cref="Seed"/> too (rollouts have their own stream).</summary>
    static readonly int RolloutRunSeed = unchecked((int)((uint)Seed * ModularInverse(7919)));

    /// <summary>x with x·a ≡ 1 (mod 2³²), for odd a (Newton's iteration doubles the correct bits each round).</summary>
    static uint ModularInverse(uint a)
    {
        uint x = a;
        for (int i = 0; i < 5; i++) x = unchecked(x * (2 - a * x));
        return x;
    }

    /// <summary>The same three questions in every split, in order; nothing is ever correct.</summary>
    sealed class FixedQuestions : IVerifiableTask
    {
        public string Name => "fixed-questions";

        public IEnumerable<TaskExample> Examples(TaskSplit split, int seed) =>
            Questions.Select((q, i) => new TaskExample($"q{i}", [R1ChatMessage.User(q)], "none", 1));

        public bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) => false;
        public string? VoteKey(string completion, bool templateOpenedThink = false) => null;
    }

    static string Dir => ServerTestModels.RandomDir;

    /// <summary>Text without BOS, EOS and padding, as the server and `r1 generate` show it.</summary>
    static string Visible(string text) => text.Replace(ChatTokens.Bos, "").Replace(ChatTokens.Eos, "").Replace(ChatTokens.Pad, "");

    /// <summary>The reference: the offline engine alone, sample by sample, as visible text.</summary>
    static string[] Expected(out bool templateOpensThink)
    {
        using var bundle = ModelBundle.Load(Dir);
        templateOpensThink = bundle.Template.OpensThink;
        var prompt = bundle.EncodeChat([new R1ChatMessage("user", Questions[0])]);
        var options = new SamplingOptions { Temperature = Temperature, TopP = TopP, MaxNewTokens = MaxTokens, Seed = Seed };
        var samples = new GenerationEngine(bundle.Model, bundle.Tokenizer).Generate([new(prompt, options, Samples)])[0];
        return samples.Select(s => bundle.Tokenizer.Decode(s.TokenIds, skipSpecialTokens: true)).ToArray();
    }

    [Fact]
    public async Task The_same_request_gives_the_same_tokens_offline_in_r1_generate_eval_grpo_the_chat_client_and_the_server()
    {
        var expected = Expected(out bool opensThink);
        Assert.NotEqual(expected[0], expected[1]); // each sample draws from its own stream
        Assert.All(expected, e => Assert.True(e.Length > 0));

        // r1 generate, in process, alone in its batch: sample 0.
        var output = new StringWriter();
        Assert.Equal(0, CliApp.Run(["generate", "--model", Dir, "--prompt", Questions[0], "--chat", "--temperature", "1", "--top-p", "0.9",
            "--max-tokens", MaxTokens.ToString(), "--seed", Seed.ToString()], output));
        Assert.Equal(expected[0] + "\n", output.ToString());

        // The evaluator, with the other questions in its batch: request seeds come from the run seed.
        using (var bundle = ModelBundle.Load(Dir))
        {
            var eval = ModelEvaluator.Run(bundle, new FixedQuestions(), TaskSplit.Test, new ModelEvalOptions
            {
                Prompts = Questions.Length, Samples = Samples, Temperature = Temperature, TopP = TopP, MaxTokens = MaxTokens,
                Seed = RunSeed, Greedy = false,
            });
            Assert.Equal(expected, eval.Samples.Where(s => s.PromptId == "q0").OrderBy(s => s.Sample).Select(s => Visible(s.Completion)));
        }

        // GRPO's rollouts of its first step, with a second prompt in the batch (the model trains after them).
        using (var bundle = ModelBundle.Load(Dir))
        {
            var config = new GrpoConfig
            {
                NumGenerations = Samples, PromptsPerStep = 2, MaxCompletionLength = MaxTokens, Temperature = Temperature, TopP = TopP,
                MaxSteps = 1, Seed = RolloutRunSeed, SaveSteps = 0,
            };
            var environment = new GrpoEnvironment(new FixedQuestions(), new CompositeReward([new WeightedReward(new AccuracyReward(), 1.0)]),
                bundle.Tokenizer, e => bundle.EncodeChat(e.Prompt.Select(m => new R1ChatMessage(m.Role, m.Content)).ToList()), opensThink);
            var run = RunFolder.Create(Directory.CreateTempSubdirectory("r1-same-seed-").FullName, "grpo", "grpo", config);
            new GrpoTrainer(bundle.Model, config, environment).Run(run);
            var logged = File.ReadAllLines(run.Samples.Path).Select(l => JsonNode.Parse(l)!)
                .Where(n => (string?)n["prompt_id"] == "q0").Select(n => Visible((string)n["completion"]!)).ToList();
            Assert.Equal(expected, logged);
        }

        // R1ChatClient and the HTTP server share one batch: a long stream runs while the requests join.
        var server = servers.Random;
        using var http = ServerFixture.Http(server);
        using var busy = new CancellationTokenSource();
        var background = http.PostAsync("v1/chat/completions", ServerFixture.Json(
            """{"messages":[{"role":"user","content":"hello"}],"max_tokens":64000,"temperature":0,"stream":true}"""), busy.Token);
        while (server.Service.Batcher.ActiveRows == 0) await Task.Delay(10);

        var client = new R1ChatClient(server.Service);
        var viaClient = client.GetResponseAsync([new AIChatMessage(ChatRole.User, Questions[0])],
            new ChatOptions { Temperature = (float)Temperature, TopP = (float)TopP, MaxOutputTokens = MaxTokens, Seed = Seed });
        var viaHttp = http.PostAsync("v1/chat/completions", ServerFixture.Json(JsonSerializer.Serialize(new
        {
            messages = new[] { new { role = "user", content = Questions[0] } },
            temperature = Temperature, top_p = TopP, max_tokens = MaxTokens, seed = Seed, n = Samples,
        })));

        var response = await viaClient;
        var (reasoning, content) = ReasoningParser.Split(expected[0], opensThink);
        Assert.Equal(reasoning ?? "", string.Concat(response.Messages[0].Contents.OfType<TextReasoningContent>().Select(c => c.Text)));
        Assert.Equal(content ?? "", response.Text);

        using var reply = await viaHttp;
        using var doc = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
        var choices = doc.RootElement.GetProperty("choices");
        for (int i = 0; i < Samples; i++)
        {
            var message = choices[i].GetProperty("message");
            (reasoning, content) = ReasoningParser.Split(expected[i], opensThink);
            Assert.Equal(string.IsNullOrEmpty(reasoning) ? null : reasoning, message.GetProperty("reasoning_content").GetString());
            // A reply that reasoned and has no answer (yet) has content null, as DeepSeek's API.
            Assert.Equal(string.IsNullOrEmpty(content) && !string.IsNullOrEmpty(reasoning) ? null : content ?? "", message.GetProperty("content").GetString());
        }
        busy.Cancel();
        try { using var _ = await background; } catch (OperationCanceledException) { }
        while (server.Service.Batcher.ActiveRows > 0) await Task.Delay(10); // leave the shared server idle
    }
}
