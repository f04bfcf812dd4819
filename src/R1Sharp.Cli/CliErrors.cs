using R1Sharp;

namespace R1Sharp.Cli;

/// <summary>How the CLI tells a user's mistake from a bug.</summary>
public static class CliErrors
{
    /// <summary>An <see cref="R1Error"/>, or a file the user named that cannot be read or written (missing, a folder where a
    /// file goes, no permission, a full disk): exit code 2 with the message, which names the path.</summary>
    public static bool IsUserError(Exception e) => Unwrap(e) is R1Error or IOException or InvalidDataException or UnauthorizedAccessException;

    public static string Message(Exception e) => Unwrap(e).Message;

    public static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : e;
}
