namespace R1Sharp;

/// <summary>
/// A problem with the user's input (a file, a field, a value) rather than a bug. The CLI prints its
/// message alone, without a stack trace, and exits non-zero.
/// </summary>
public class R1Error(string message, Exception? inner = null) : Exception(message, inner);
