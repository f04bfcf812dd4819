namespace R1Sharp.Tokenizers;

/// <summary>
/// Token strings of the chat formats (DeepSeek-R1's use U+FF5C '｜' and U+2581 '▁'), and the special tokens that our
/// own tokenizers (<see cref="ByteTokenizer"/>, <see cref="BpeTrainer"/>) ship, so tiny models speak the R1 format.
/// </summary>
public static class ChatTokens
{
    public const string Bos = "<｜begin▁of▁sentence｜>";
    public const string Eos = "<｜end▁of▁sentence｜>";
    public const string Pad = "<｜▁pad▁｜>";
    public const string User = "<｜User｜>";
    public const string Assistant = "<｜Assistant｜>";
    public const string ThinkStart = "<think>";
    public const string ThinkEnd = "</think>";
    public const string AnswerStart = "<answer>";
    public const string AnswerEnd = "</answer>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    /// <summary>Our tokenizers' added tokens, in id order right after the 256 byte tokens (BOS = 256, EOS = 257, PAD = 258).</summary>
    public static IReadOnlyList<string> OwnSpecialTokens { get; } =
        [Bos, Eos, Pad, User, Assistant, ThinkStart, ThinkEnd, AnswerStart, AnswerEnd];

    /// <summary>Whether our tokenizers mark the token "special" (dropped by Decode(skipSpecialTokens: true)); the chat
    /// and reasoning tags stay visible, as in DeepSeek-R1's own tokenizer.</summary>
    public static bool IsSpecial(string token) => token is Bos or Eos or Pad;
}
