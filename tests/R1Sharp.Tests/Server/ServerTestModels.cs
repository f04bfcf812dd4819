using R1Sharp.Checkpoints;
using R1Sharp.Model;
using R1Sharp.Tokenizers;
using R1Sharp.Training;
using static TorchSharp.torch;

namespace R1Sharp.Tests.Server;

/// <summary>
/// Model directories for the server tests, made once per test run: a tiny random model (its output is noise) and a
/// tiny model trained to answer every question with <see cref="Reasoning"/> + "&lt;/think&gt;" + <see cref="Answer"/>,
/// so a test can see real thinking and a real answer come out of the real server.
/// </summary>
public static class ServerTestModels
{
    public const string Reasoning = "Two and two: I add them and get four.";
    public const string Answer = "The answer is **4**, since $2+2=4$.";
    public static readonly string[] Questions = ["What is 2+2?", "Add two and two.", "hello", "Please compute 2 + 2", "2+2=?", "Sum of 2 and 2?"];

    static readonly Lazy<string> random = new(() => Create("random", LongContext));
    static readonly Lazy<string> reasoning = new(() => Create("reasoning", TrainToReason));

    /// <summary>A tiny random llama with the byte-level tokenizer, R1's chat template and a 64k context (room for a stream that outlasts any test step).</summary>
    public static string RandomDir => random.Value;

    /// <summary>A tiny llama whose greedy completion of any of <see cref="Questions"/> is thinking, then the answer, then EOS.</summary>
    public static string ReasoningDir => reasoning.Value;

    static string Create(string name, Action<string> finish)
    {
        string dir = Path.Combine(TempDir.ForSession("r1sharp-serve-"), name);
        ModelInitializer.Create(ModelFamily.Llama, "tiny", dir, seed: 3); // greedy from "hello" it loops, never meeting EOS
        finish(dir);
        return dir;
    }

    static void LongContext(string dir)
    {
        string path = Path.Combine(dir, "config.json");
        (ModelConfig.Load(path) with { MaxPositionEmbeddings = 65536 }).Save(path);
    }

    /// <summary>Supervised fine-tuning on the fixed completion until greedy decoding reproduces it.</summary>
    static void TrainToReason(string dir)
    {
        using var bundle = ModelBundle.Load(dir);
        var model = bundle.Model;
        var completion = bundle.Tokenizer.Encode(Reasoning + ChatTokens.ThinkEnd + Answer + ChatTokens.Eos);
        var examples = Questions.Select(q => (Prompt: bundle.EncodeChat([new ChatMessage("user", q)]), Completion: completion)).ToList();
        int length = examples.Max(e => e.Prompt.Count + e.Completion.Count);
        var ids = new long[examples.Count * length];
        var targets = Enumerable.Repeat(LanguageModelLoss.IgnoreIndex, examples.Count * length).ToArray();
        var mask = new long[examples.Count * length];
        for (int b = 0; b < examples.Count; b++)
        {
            var all = examples[b].Prompt.Concat(examples[b].Completion).ToArray();
            for (int t = 0; t < all.Length; t++)
            {
                ids[b * length + t] = all[t];
                mask[b * length + t] = 1;
                if (t >= examples[b].Prompt.Count) targets[b * length + t - 1] = all[t]; // predict the completion only
            }
        }
        manual_seed(7);
        model.train();
        using var input = tensor(ids).view(examples.Count, length);
        using var target = tensor(targets).view(examples.Count, length);
        using var attention = tensor(mask).view(examples.Count, length);
        using var optimizer = AdamWSetup.Create(model, learningRate: 5e-3, weightDecay: 0);
        for (int step = 0; step < 400; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = LanguageModelLoss.Compute(model.Forward(input, attention), target);
            loss.backward();
            optimizer.step();
            if (loss.item<float>() < 0.03) break; // every token's probability is near 1: greedy decoding reproduces it
        }
        model.eval();
        ModelCheckpoint.Save(model, dir);
    }
}
