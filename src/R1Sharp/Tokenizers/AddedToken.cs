namespace R1Sharp.Tokenizers;

/// <summary>
/// A token matched as a whole wherever its text appears in the input (tokenizer.json "added_tokens"), e.g.
/// "&lt;think&gt;". <paramref name="Special"/> tokens are dropped by Decode(skipSpecialTokens: true);
/// <paramref name="Normalized"/> ones are matched after the normaliser has run.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized = false);
