using R1Sharp;

namespace R1Sharp.Cli;

/// <summary>How the CLI tells a user's mistake from a bug.</summary>
public static class CliErrors
{
    public static bool IsUserError(Exception e) => Unwrap(e) is R1Error or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or UnauthorizedAccessException;

    public static string Message(Exception e) => Unwrap(e).Message;

    static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : e;
}
