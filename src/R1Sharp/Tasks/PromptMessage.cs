namespace R1Sharp.Tasks;

/// <summary>One chat turn of a task prompt: Role is "system", "user" or "assistant".</summary>
public sealed record PromptMessage(string Role, string Content)
{
    public static PromptMessage User(string content) => new("user", content);
}
