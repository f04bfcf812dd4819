using System.Text.Json.Nodes;
using R1Sharp.Tasks;
using R1Sharp.Tasks.Synthetic;
using R1Sharp.Tokenizers;

namespace R1Sharp.Quickstart;

/// <summary>
/// The pretraining text: training-side addition problems rendered in the R1 chat format, each answered either
/// directly (empty thinking, often with a forgotten carry) or with worked columns inside &lt;think&gt; — some of which
/// contain a slip.
/// </summary>
public static class QuickstartCorpus
{
    /// <summary>The task the quickstart trains and evaluates on: addition, split by a hash of each problem.</summary>
    public static ArithmeticTask Task(QuickstartConfig c) =>
        new(new ArithmeticOptions { Operations = "+", MinDigits = c.MinDigits, MaxDigits = c.MaxDigits, HarderExtraDigits = 1 }, "quickstart");

    /// <summary>
    /// The completion after the template's "&lt;think&gt;\n": worked columns (or nothing), then the answer. A direct
    /// answer forgets the carries <paramref name="forgetsCarryInto"/> picks (none if null).
    /// </summary>
    public static string Completion(string question, bool direct, int slipColumn = -1, int slip = 0, Func<int, bool>? forgetsCarryInto = null)
    {
        var (a, b) = AdditionScratchpad.Parse(question);
        if (direct) return $"{ChatTokens.ThinkEnd}\n{AdditionScratchpad.Solve(a, b, forgetsCarryInto: forgetsCarryInto).Answer}";
        var (work, answer) = AdditionScratchpad.Solve(a, b, slipColumn, slip);
        return $"{work}\n{ChatTokens.ThinkEnd}\n{answer}";
    }

    /// <summary>Whole conversations (prompt + completion + EOS) as text, in a seeded order.</summary>
    public static List<string> Documents(QuickstartConfig c) => Conversations(c).Select(t => t + ChatTokens.Eos).ToList();

    /// <summary>
    /// The corpus as `r1 pretrain` reads it: one JSONL {"text"} line per conversation, without the EOS that r1 pretrain
    /// appends to every document — so pretraining on this file with the quickstart's tokenizer sees the tokens the
    /// quickstart's own pretraining sees. With direct_share and harder_direct_share 1 it is a corpus of direct answers
    /// only (and with direct_forget_carry_share 0, right ones). Returns the count.
    /// </summary>
    public static int WriteJsonl(QuickstartConfig c, string path) =>
        JsonlFile.Write(path, Conversations(c).Select(t => new JsonObject { ["text"] = t }));

    /// <summary>The conversations (prompt + completion, no EOS) of <see cref="Documents"/>.</summary>
    static IEnumerable<string> Conversations(QuickstartConfig c)
    {
        var random = new Random(c.Seed);
        var regular = Task(c).Examples(TaskSplit.Train, c.Seed).GetEnumerator();
        // Longer problems come from the training side too: the harder split only ever draws from the test side.
        var longer = new ArithmeticTask(new ArithmeticOptions { Operations = "+", MinDigits = c.MaxDigits + 1, MaxDigits = c.MaxDigits + 1 })
            .Examples(TaskSplit.Train, c.Seed).GetEnumerator();
        for (int i = 0; i < c.PretrainDocuments; i++)
        {
            bool isLonger = random.NextDouble() < c.HarderShareInPretraining;
            var source = isLonger ? longer : regular;
            if (!source.MoveNext()) throw new R1Error("quickstart: the addition task ran out of training problems");
            string question = source.Current.Prompt[^1].Content;
            bool direct = random.NextDouble() < (isLonger ? c.HarderDirectShare ?? c.DirectShare : c.DirectShare);
            bool slipped = !direct && random.NextDouble() < c.SlipShare;
            int columns = Math.Max(c.MinDigits, source.Current.Difficulty);
            string completion = slipped
                ? Completion(question, false, random.Next(columns), random.Next(2) == 0 ? -(1 + random.Next(2)) : 1 + random.Next(2))
                : Completion(question, direct, forgetsCarryInto: direct && c.DirectForgetCarryShare > 0 ? _ => random.NextDouble() < c.DirectForgetCarryShare : null);
            yield return ChatTemplate.DeepSeekR1.Render([new ChatMessage("user", question)], addGenerationPrompt: true) + completion;
        }
    }
}
