using System.Text;

namespace R1Sharp;

/// <summary>
/// Reads UTF-8 lines from bytes we don't trust (an imported file, an endpoint's event stream) without ever holding more
/// than <c>maxBytes</c> of one line: a longer line, or one that is not UTF-8, is an error naming the source and the line
/// number, not an allocation the input chose. Lines end at "\n" (a "\r" before it is dropped); a leading byte-order
/// mark is skipped.
/// </summary>
sealed class BoundedLineReader(Stream stream, int maxBytes, string source)
{
    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    readonly byte[] buffer = new byte[16384];
    readonly MemoryStream line = new();
    int position, length;

    /// <summary>Lines read so far (the number of the one just returned).</summary>
    public int LineNumber { get; private set; }

    /// <summary>The next line, or null at the end.</summary>
    public string? ReadLine()
    {
        while (true)
        {
            if (TakeLine() is { } taken) return taken;
            (length, position) = (stream.Read(buffer), 0);
            if (length == 0) return Rest();
        }
    }

    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellation)
    {
        while (true)
        {
            if (TakeLine() is { } taken) return taken;
            (length, position) = (await stream.ReadAsync(buffer, cancellation), 0);
            if (length == 0) return Rest();
        }
    }

    /// <summary>Moves buffered bytes into the line; the line if it ended.</summary>
    string? TakeLine()
    {
        int newline = Array.IndexOf(buffer, (byte)'\n', position, length - position);
        int take = (newline < 0 ? length : newline) - position;
        if (line.Length + take > maxBytes)
            throw new R1Error($"{source}:{LineNumber + 1}: line longer than {maxBytes:N0} bytes");
        line.Write(buffer, position, take);
        if (newline < 0)
        {
            position = length;
            return null;
        }
        position = newline + 1;
        return Finish();
    }

    /// <summary>The last line when the text does not end with a newline; null at the end.</summary>
    string? Rest() => line.Length > 0 ? Finish() : null;

    string Finish()
    {
        LineNumber++;
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.Length > 0 && bytes[^1] == '\r') bytes = bytes[..^1];
        if (LineNumber == 1 && bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new R1Error($"{source}:{LineNumber}: not UTF-8 text");
        }
        finally
        {
            line.SetLength(0);
        }
    }
}
