using System.Text.Json.Nodes;
using R1Sharp.Cli;

namespace R1Sharp.Tests.Distillation;

/// <summary>
/// A tiny llama (byte tokenizer, R1 chat template) fine-tuned in a few seconds to answer prompts "p0" … "p19" in
/// three ways: "add\n&lt;/think&gt;\n1" (right and well-formed: the gold answer is 1), "add\n&lt;/think&gt;\n2" (wrong), and
/// "&lt;/think&gt;\n1" (right but with empty reasoning, so malformed). Sampled at temperature 1 it writes all three, which
/// is what a test of rejection sampling needs. Built once and shared by the tests of this folder.
/// </summary>
static class TinyTeacher
{
    public const int PromptCount = 20;
    public const string Right = "<think>\nadd\n</think>\n1", Wrong = "<think>\nadd\n</think>\n2", Malformed = "<think>\n</think>\n1";

    static readonly Lazy<string> Folder = new(Build);

    /// <summary>The teacher's model directory.</summary>
    public static string Directory => Folder.Value;

    static string Build()
    {
        string root = TempDir.ForSession("r1-tiny-teacher-");
        string init = Path.Combine(root, "init"), data = Path.Combine(root, "sft.jsonl"), config = Path.Combine(root, "sft.json");
        Assert.Equal(0, CliApp.Run(["init", "--arch", "llama", "--preset", "tiny", "--out", init, "--seed", "3"]));
        File.WriteAllLines(data, Enumerable.Range(0, PromptCount).SelectMany(i => new[] { Right, Right, Wrong, Malformed }
            .Select(answer => Chat($"p{i}", answer))));
        File.WriteAllText(config, """
            {"learning_rate": 3e-3, "warmup_steps": 5, "max_steps": 80, "batch_size": 16, "max_seq_length": 48,
             "eval_steps": 0, "save_steps": 0, "seed": 5}
            """);
        string trained = Path.Combine(root, "teacher");
        Assert.Equal(0, CliApp.Run(["sft", "--model", init, "--data", data, "--config", config, "--runs-dir", Path.Combine(root, "runs"),
            "--name", "teacher", "--out", trained, "--threads", "1"]));
        return trained;
    }

    static string Chat(string user, string assistant) => new JsonObject
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = user },
                                     new JsonObject { ["role"] = "assistant", ["content"] = assistant }),
    }.ToJsonString();

    /// <summary>A generic-layout task file of prompts p[from] … p[to − 1], gold answer 1.</summary>
    public static string PromptsFile(string folder, int from, int to)
    {
        string path = Path.Combine(folder, $"prompts-{from}-{to}.jsonl");
        File.WriteAllLines(path, Enumerable.Range(from, to - from).Select(i => new JsonObject { ["prompt"] = $"p{i}", ["answer"] = "1" }.ToJsonString()));
        return path;
    }
}
