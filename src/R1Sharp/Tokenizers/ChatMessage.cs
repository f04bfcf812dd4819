namespace R1Sharp.Tokenizers;

/// <summary>One turn of a conversation. Role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);
