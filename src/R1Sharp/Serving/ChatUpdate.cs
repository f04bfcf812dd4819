using R1Sharp.Generation;

namespace R1Sharp.Serving;

/// <summary>
/// A piece of one choice of a chat completion: new reasoning text, new answer text, or (on the choice's last update)
/// why it ended. Either delta may be empty.
/// </summary>
public readonly record struct ChatUpdate(int Choice, string ReasoningDelta, string ContentDelta, FinishReason? Finish = null);
