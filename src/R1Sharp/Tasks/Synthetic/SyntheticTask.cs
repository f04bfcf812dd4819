using System.Security.Cryptography;
using System.Text;
using R1Sharp.Tasks.Answers;
using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks.Synthetic;

/// <summary>Knobs every synthetic task has.</summary>
public abstract record SyntheticOptions
{
    /// <summary>Share of all problems that belong to the test side (by a hash of the problem). Default 0.1.</summary>
    public double TestShare { get; init; } = 0.1;
}

/// <summary>One generated problem: its identity for splitting (<paramref name="Key"/>), question, answer and worked solution.</summary>
public sealed record SyntheticProblem(string Key, string Question, string Answer, int Difficulty, string Reasoning, string FinalLine);

/// <summary>
/// A task that makes its own problems from a seed. A problem's split follows from a hash of its key (the problem
/// itself, e.g. "457+86"), so Train and Test never share a problem whatever the seeds; Harder draws from the
/// test side with harder knobs. Grading defaults to <see cref="MathAnswerChecker"/>.
/// </summary>
public abstract class SyntheticTask(string name, SyntheticOptions options) : IVerifiableTask
{
    protected static readonly MathAnswerChecker Checker = new();

    // The stream ends when this many draws in a row are duplicates or on the other side: the space is used up.
    const int MaxMissesInARow = 10_000;

    public string Name => name;

    /// <summary>Makes one problem; <paramref name="harder"/> selects the harder-split knobs.</summary>
    protected abstract SyntheticProblem Generate(Random random, bool harder);

    /// <summary>
    /// Distinct problems of the split, in an order fixed by the seed. The stream is long but finite: it ends when
    /// the problem space of the split is used up (e.g. one-digit sums).
    /// </summary>
    public IEnumerable<TaskExample> Examples(TaskSplit split, int seed)
    {
        var random = new Random(unchecked(seed * 1_000_003 + (int)split * 7_919 + 17));
        var seen = new HashSet<string>();
        for (int misses = 0; misses < MaxMissesInARow;)
        {
            var problem = Generate(random, split == TaskSplit.Harder);
            bool wanted = IsTestSide(problem.Key, options.TestShare) == (split != TaskSplit.Train);
            if (!wanted || !seen.Add(problem.Key)) { misses++; continue; }
            misses = 0;
            string solution = $"{ChatTokens.ThinkStart}\n{problem.Reasoning}\n{ChatTokens.ThinkEnd}\n{problem.FinalLine}";
            yield return new TaskExample($"{Name}-{HashHex(problem.Key)}", [ChatMessage.User(problem.Question)],
                problem.Answer, problem.Difficulty, solution);
        }
    }

    public virtual bool IsCorrect(string completion, string reference, bool templateOpenedThink = false) =>
        Checker.IsCorrect(completion, reference, templateOpenedThink);

    public virtual string? VoteKey(string completion, bool templateOpenedThink = false) =>
        Checker.VoteKey(completion, templateOpenedThink);

    /// <summary>Whether a problem belongs to the test side: a fixed hash of its key below <paramref name="testShare"/>.</summary>
    public static bool IsTestSide(string key, double testShare) =>
        BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0) / 18446744073709551616.0 < testShare;

    static string HashHex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];

    /// <summary>A number with exactly <paramref name="digits"/> digits (0–9 for one digit).</summary>
    protected static long RandomWithDigits(Random random, int digits) =>
        digits <= 1 ? random.Next(10) : random.NextInt64((long)Math.Pow(10, digits - 1), (long)Math.Pow(10, digits));
}
