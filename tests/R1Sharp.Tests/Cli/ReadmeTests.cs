using System.CommandLine;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using R1Sharp.Cli;
using R1Sharp.Quickstart;
using static R1Sharp.Tests.Cli.CliRun;

namespace R1Sharp.Tests.Cli;

/// <summary>
/// The README's CLI reference against the real commands (#21 item 12): its example block runs as written, every flag
/// it names exists, and what it says about files, limits and help text holds — so the README cannot drift again.
/// </summary>
public class ReadmeTests
{
    static readonly string Readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));

    static string Doc(string name) => File.ReadAllText(Path.Combine(RepoRoot(), "docs", name));

    /// <summary>The r1 lines of the README's example block (the one "a test runs").</summary>
    static List<string> ExampleLines()
    {
        int marker = Readme.IndexOf("a test runs this block as written", StringComparison.Ordinal);
        Assert.True(marker >= 0, "README.md has no example block for the test to run");
        int start = Readme.IndexOf("```bash\n", marker, StringComparison.Ordinal) + "```bash\n".Length;
        int end = Readme.IndexOf("```", start, StringComparison.Ordinal);
        return Readme[start..end].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    /// <summary>A shell line's words: spaces split, double quotes group.</summary>
    static string[] Words(string line) =>
        Regex.Matches(line, "\"([^\"]*)\"|(\\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).ToArray();

    [Fact]
    public void The_readmes_example_commands_run_as_written_in_an_empty_folder()
    {
        using var dir = new TempDir("r1-readme-");
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = dir.Path;
        try
        {
            var lines = ExampleLines();
            Assert.True(lines.Count >= 8, "the example block should show the commands");
            foreach (string line in lines)
            {
                Assert.StartsWith("r1 ", line);
                var result = R1(Words(line)[1..]);
                Assert.True(result.Exit == 0, $"{line}\n{result}");
                Assert.DoesNotContain("error:", result.Err);
            }
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }

        // What the README and docs say these commands leave behind.
        Assert.True(File.Exists(dir.File("eval/eval.json")) && File.Exists(dir.File("eval/samples.jsonl")));
        Assert.True(File.Exists(dir.File("model.gguf")));
        // "A run folder holds config.json, metrics.jsonl, samples.jsonl (GRPO), ...": SFT keeps no samples file.
        Assert.Contains("`samples.jsonl`\n(GRPO)", Readme.Replace("`samples.jsonl` (GRPO)", "`samples.jsonl`\n(GRPO)"));
        foreach (string file in new[] { "config.json", "metrics.jsonl", "report.md" })
            Assert.True(File.Exists(dir.File($"runs/sft/{file}")) && File.Exists(dir.File($"runs/grpo/{file}")), file);
        Assert.False(File.Exists(dir.File("runs/sft/samples.jsonl")));
        Assert.True(File.Exists(dir.File("runs/grpo/samples.jsonl")));
        Assert.True(Directory.Exists(dir.File("runs/grpo/model")), "--out defaults to <run>/model");

        // Every key the runs and eval wrote is documented: metrics in docs/training.md, samples in training.md and tasks.md.
        string training = Doc("training.md"), tasks = Doc("tasks.md");
        foreach (string run in new[] { "sft", "grpo" })
            foreach (string key in Keys(dir.File($"runs/{run}/metrics.jsonl")))
                Assert.True(Documented(training, key), $"docs/training.md does not document the metric '{key}' of {run}");
        foreach (string key in Keys(dir.File("runs/grpo/samples.jsonl")))
            Assert.True(Documented(training, key), $"docs/training.md does not document the GRPO samples field '{key}'");
        foreach (string key in Keys(dir.File("eval/samples.jsonl")))
            Assert.True(Documented(tasks, key), $"docs/tasks.md does not document the eval samples field '{key}'");
        Assert.DoesNotContain("num_tokens", training);
    }

    static IEnumerable<string> Keys(string jsonl) =>
        File.ReadLines(jsonl).SelectMany(line => JsonNode.Parse(line)!.AsObject().Select(kv => kv.Key)).Distinct();

    /// <summary>A key is documented when it appears in backticks, whole or as the last part of a family such as
    /// `rewards/&lt;name&gt;/mean` or `completions/mean_length`, `min_length`.</summary>
    static bool Documented(string doc, string key) =>
        doc.Contains($"`{key}`") || doc.Contains($"`{key.Split('/')[^1]}`")
        || (key.StartsWith("rewards/") && doc.Contains($"`rewards/<name>/{key.Split('/')[^1]}`"));

    [Fact]
    public void Every_flag_the_cli_reference_names_is_an_option_of_its_command()
    {
        var root = CliApp.BuildRoot();
        int rows = 0;
        foreach (Match row in Regex.Matches(Readme, @"^\| `(r1 [^`]+)`", RegexOptions.Multiline))
        {
            string synopsis = row.Groups[1].Value;
            var command = Resolve(root, synopsis);
            foreach (Match flag in Regex.Matches(synopsis, @"--[a-z][a-z0-9-]*"))
                Assert.True(HasOption(command, flag.Value), $"README: `{synopsis}` names {flag.Value}, which `r1 {command.Name}` does not take");
            rows++;
        }
        Assert.True(rows >= 20, $"only {rows} command rows found in the README's CLI reference");

        // "`r1 pretrain`, `r1 sft`, `r1 grpo` and `r1 distill` also take `--runs-dir`, ...".
        var shared = Regex.Match(Readme, @"^(`r1 [^\n]+?) also take (.+?)\.", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(shared.Success, "the README's sentence on the training commands' shared options is gone");
        foreach (Match name in Regex.Matches(shared.Groups[1].Value, "`(r1 [a-z]+)`"))
            foreach (Match flag in Regex.Matches(shared.Groups[2].Value, @"`(--[a-z-]+)"))
                Assert.True(HasOption(Resolve(root, name.Groups[1].Value), flag.Groups[1].Value), $"README: {name.Value} does not take {flag.Value}");
    }

    static Command Resolve(Command root, string synopsis)
    {
        Command command = root;
        foreach (string word in synopsis.Split(' ').Skip(1))
        {
            var sub = command.Subcommands.FirstOrDefault(c => c.Name == word);
            if (sub is null) break;
            command = sub;
        }
        Assert.NotSame(root, command);
        return command;
    }

    static bool HasOption(Command command, string flag) =>
        command.Options.Any(o => o.Name == flag || o.Aliases.Contains(flag));

    [Fact]
    public void The_readme_keeps_its_promises_on_limits_sections_and_help()
    {
        // The curl example fits the project's own smallest context (the quickstart's models): no 400 for a new user.
        foreach (Match m in Regex.Matches(Readme, "\"max_tokens\": (\\d+)"))
            Assert.True(int.Parse(m.Groups[1].Value) + 64 <= new QuickstartConfig().ModelConfig(320, null, null, null).MaxPositionEmbeddings,
                $"README's curl asks for max_tokens {m.Groups[1].Value}, more than the quickstart model's context leaves");
        // No empty section: every heading is followed by text before the next heading.
        var headings = Regex.Matches(Readme, @"^#{2,4} .+$", RegexOptions.Multiline);
        for (int i = 0; i < headings.Count; i++)
        {
            int from = headings[i].Index + headings[i].Length;
            int to = i + 1 < headings.Count ? headings[i + 1].Index : Readme.Length;
            Assert.True(Readme[from..to].Trim().Length > 0, $"README: '{headings[i].Value}' is an empty section");
        }
        // --help says what --max-steps does, not that it "overrides the config" (flags beat config files everywhere).
        foreach (string command in new[] { "pretrain", "sft", "grpo", "distill" })
        {
            var help = R1(command, "--help");
            Assert.Equal(0, help.Exit);
            string line = help.Out.Split('\n').First(l => l.TrimStart().StartsWith("--max-steps"));
            Assert.DoesNotContain("overrides", line);
            Assert.Contains("default", line);
        }
    }
}
