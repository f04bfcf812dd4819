namespace R1Sharp.Tokenizers;

/// <summary>
/// What the model, generation, training and serving code needs from a tokenizer. Implementations:
/// the Hugging Face tokenizer.json loader and the byte-level tokenizer for tiny test models.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the tokenizer can produce (the model's vocab must be at least this).</summary>
    int VocabSize { get; }

    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }

    /// <summary>
    /// Encodes text; special tokens written in the text (e.g. "&lt;think&gt;") become their ids. Never adds BOS/EOS by
    /// itself (like Hugging Face's add_special_tokens=false): chat templates already write BOS, other callers add BosId.
    /// </summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>
    /// Encodes a rendered chat with special tokens taken from the template's markup only: the messages' contents are
    /// plain text, so a user cannot write a control token (a turn marker, "&lt;think&gt;"). Where the contents hold no
    /// special-token text, the ids equal <c>Encode(prompt.Text)</c>, which is transformers' behaviour.
    /// </summary>
    IReadOnlyList<int> Encode(ChatPrompt prompt);

    /// <summary>Decodes ids back to text; special tokens are rendered as their text unless skipped.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>The id of a token given by its exact text (e.g. "&lt;/think&gt;"), or null.</summary>
    int? TokenToId(string token);
}
