using System.Text;
using R1Sharp.Generation;
using R1Sharp.Serving;

namespace R1Sharp.Arena;

/// <summary>A battle's verdict, named as LMArena/FastChat publish it: "model_a", "model_b", "tie", "tie (bothbad)".</summary>
public enum Winner { ModelA, ModelB, Tie, TieBothBad }

/// <summary>Who decided a battle: a person voting on the arena page (or in imported data), or the task's checker.</summary>
public enum Judge { Human, Checker }

public static class ArenaNames
{
    public static string Name(Winner winner) => winner switch
    {
        Winner.ModelA => "model_a",
        Winner.ModelB => "model_b",
        Winner.Tie => "tie",
        _ => "tie (bothbad)",
    };

    public static Winner? ParseWinner(string? name) => name switch
    {
        "model_a" => Winner.ModelA,
        "model_b" => Winner.ModelB,
        "tie" => Winner.Tie,
        "tie (bothbad)" => Winner.TieBothBad,
        _ => null,
    };

    public static string Name(Judge judge) => judge == Judge.Human ? "human" : "checker";

    /// <summary>"human", "checker", or "all" (null).</summary>
    public static Judge? ParseJudge(string name, string field) => name switch
    {
        "human" => Judge.Human,
        "checker" => Judge.Checker,
        "all" => null,
        _ => throw new R1Error($"{field} must be human, checker or all, got '{UntrustedText.Printable(name, 40)}'"),
    };

    /// <summary>Model A's score: 1 for a win, 0 for a loss; both kinds of tie count half a win each way.</summary>
    public static double ScoreOfA(Winner winner) => winner switch
    {
        Winner.ModelA => 1,
        Winner.ModelB => 0,
        _ => 0.5,
    };
}

/// <summary>A contestant's whole reply: its thinking, its answer, and why it ended (null: it did not end, e.g. cut off).</summary>
public sealed record ContestantReply(string Reasoning, string Content, FinishReason? Finish)
{
    /// <summary>The reply as one completion, thinking inside &lt;think&gt;…&lt;/think&gt; before the answer, the way
    /// the task checkers read a completion.</summary>
    public string Completion => Reasoning.Length > 0 ? $"<think>{Reasoning}</think>{Content}" : Content;

    /// <summary>Collects a reply from its updates as they stream.</summary>
    public sealed class Builder
    {
        readonly StringBuilder reasoning = new(), content = new();
        FinishReason? finish;

        public void Add(ChatUpdate update)
        {
            reasoning.Append(update.ReasoningDelta);
            content.Append(update.ContentDelta);
            finish ??= update.Finish;
        }

        public ContestantReply Build() => new(reasoning.ToString(), content.ToString(), finish);
    }
}

/// <summary>
/// One battle as the arena database keeps it. <see cref="Winner"/> is null until a person votes; imported battles have
/// no prompt or replies of their own (their other fields are kept in <see cref="Extra"/>, a JSON object).
/// </summary>
public sealed record Battle(string Id, string ModelA, string ModelB, Judge Judge, DateTimeOffset CreatedAt)
{
    public string? Prompt { get; init; }
    public ContestantReply? ReplyA { get; init; }
    public ContestantReply? ReplyB { get; init; }
    public Winner? Winner { get; init; }
    /// <summary>The anonymous id (a cookie) of who voted; null for the checker's and imported battles.</summary>
    public string? Voter { get; init; }
    public DateTimeOffset? VotedAt { get; init; }
    /// <summary>Where the battle came from: "arena" (the page), "auto" (r1 arena auto) or "import".</summary>
    public string Source { get; init; } = "arena";
    public string Extra { get; init; } = "{}";

    public static string NewId() => Guid.NewGuid().ToString("N");
}

/// <summary>A decided battle, all a rating needs.</summary>
public readonly record struct BattleOutcome(string ModelA, string ModelB, Winner Winner);
