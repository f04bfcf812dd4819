using R1Sharp.Tokenizers;

namespace R1Sharp.Tasks;

/// <summary>One problem of a task.</summary>
/// <param name="Id">Stable across runs and seeds (synthetic tasks: a hash of the problem; files: id field or file:line).</param>
/// <param name="Prompt">The chat messages to generate from.</param>
/// <param name="Answer">The reference answer the task's grader checks a completion against.</param>
/// <param name="Difficulty">Task-specific level (digits, numbers to combine, MATH level); higher is harder.</param>
/// <param name="Solution">A worked solution, "&lt;think&gt;steps&lt;/think&gt;answer", for pretraining/SFT; null when the source has none.</param>
public sealed record TaskExample(string Id, IReadOnlyList<ChatMessage> Prompt, string Answer, int Difficulty, string? Solution = null)
{
    /// <summary>The user's text, all user turns joined (what the language-consistency reward compares against).</summary>
    public string UserText => string.Join("\n", Prompt.Where(m => m.Role == "user").Select(m => m.Content));
}
