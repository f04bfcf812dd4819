namespace R1Sharp.Tokenizers;

/// <summary>One turn of a conversation (a task's prompt, a chat request, an SFT example). Role is "system", "user" or
/// "assistant".</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage User(string content) => new("user", content);
}
