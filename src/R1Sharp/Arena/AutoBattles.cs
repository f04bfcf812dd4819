using System.Text.Json.Nodes;
using R1Sharp.Generation;
using R1Sharp.Tasks;

namespace R1Sharp.Arena;

/// <summary>
/// <c>r1 arena auto</c>: battles on verifiable prompts, judged by the task's checker instead of a person. Both
/// contestants answer the same held-out (test split) prompt; the one whose final answer the checker accepts wins; both
/// right is a tie, both wrong a "tie (bothbad)" (a tie too, for the rating). Pairs are drawn as on the page (every
/// pair's count kept even, counting the checker's earlier battles in the database). Each battle is stored as soon as it
/// is judged, marked as judged by the checker.
/// </summary>
public static class AutoBattles
{
    /// <summary>Battles in flight at once: local models decode their replies in the same batched steps, endpoints are
    /// waited on together.</summary>
    public const int Concurrency = 8;

    /// <summary>Plays <paramref name="battles"/> battles; same seed, same pairs, prompts and (for local models) replies.</summary>
    /// <param name="onBattle">Called after each battle is stored (from several threads).</param>
    public static async Task<List<Battle>> RunAsync(ArenaContestants contestants, IVerifiableTask task, ArenaStore store, int battles, int seed,
        Action<Battle>? onBattle = null, CancellationToken cancellation = default)
    {
        if (battles < 1) throw new R1Error($"the number of battles must be at least 1, got {battles}");
        var examples = task.Examples(TaskSplit.Test, seed).Take(battles).ToList();
        if (examples.Count == 0) throw new R1Error($"task '{task.Name}' has no prompts");
        var scheduler = new PairScheduler(contestants.All.Select(c => c.Name).ToList(), store.PairCounts(Judge.Checker), seed);
        // The pairs depend only on counts, not on results, so the whole plan is drawn first (a file with fewer
        // prompts than battles is gone through again).
        var plan = Enumerable.Range(0, battles).Select(i => (Index: i, Pair: scheduler.Next(), Example: examples[i % examples.Count])).ToList();

        var played = new Battle?[battles];
        await Parallel.ForEachAsync(plan, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellation }, async (item, token) =>
        {
            var (a, b) = (contestants[item.Pair.A], contestants[item.Pair.B]);
            var replies = await Task.WhenAll(
                a.ReplyAsync(item.Example.Prompt, Seeds.ForPrompt(seed, 2L * item.Index), token),
                b.ReplyAsync(item.Example.Prompt, Seeds.ForPrompt(seed, 2L * item.Index + 1), token));
            var battle = Judged(task, item.Example, a.Name, b.Name, replies[0], replies[1]);
            store.Add(battle);
            played[item.Index] = battle;
            onBattle?.Invoke(battle);
        });
        return played.Select(b => b!).ToList();
    }

    /// <summary>The battle as the checker decides it: one right wins; both right is a tie, both wrong a tie (bothbad).</summary>
    public static Battle Judged(IVerifiableTask task, TaskExample example, string modelA, string modelB, ContestantReply replyA, ContestantReply replyB)
    {
        bool rightA = task.IsCorrect(replyA.Completion, example.Answer), rightB = task.IsCorrect(replyB.Completion, example.Answer);
        var winner = (rightA, rightB) switch
        {
            (true, false) => Winner.ModelA,
            (false, true) => Winner.ModelB,
            (true, true) => Winner.Tie,
            _ => Winner.TieBothBad,
        };
        var now = DateTimeOffset.UtcNow;
        return new Battle(Battle.NewId(), modelA, modelB, Judge.Checker, now)
        {
            Prompt = example.UserText, ReplyA = replyA, ReplyB = replyB, Winner = winner, VotedAt = now, Source = "auto",
            Extra = new JsonObject
            {
                ["task"] = task.Name, ["example_id"] = example.Id, ["answer"] = example.Answer, ["correct_a"] = rightA, ["correct_b"] = rightB,
            }.ToJsonString(),
        };
    }
}
