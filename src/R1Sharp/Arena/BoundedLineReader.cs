using System.Text;

namespace R1Sharp.Arena;

/// <summary>
/// Reads lines from text we don't trust (an imported file, an endpoint's event stream) without ever holding more than
/// <c>maxChars</c> of one line: a longer line is an error naming the source and the line number, not an allocation the
/// input chose. Lines end at "\n" (a "\r" before it is dropped).
/// </summary>
sealed class BoundedLineReader(TextReader reader, int maxChars, string source)
{
    readonly StringBuilder line = new();
    readonly char[] buffer = new char[16384];
    int position, length;

    /// <summary>Lines read so far (the number of the one just returned).</summary>
    public int LineNumber { get; private set; }

    /// <summary>The next line, or null at the end.</summary>
    public string? ReadLine()
    {
        while (true)
        {
            if (TakeLine() is { } taken) return taken;
            (length, position) = (reader.Read(buffer), 0);
            if (length == 0) return Rest();
        }
    }

    public async ValueTask<string?> ReadLineAsync(CancellationToken cancellation)
    {
        while (true)
        {
            if (TakeLine() is { } taken) return taken;
            (length, position) = (await reader.ReadAsync(buffer, cancellation), 0);
            if (length == 0) return Rest();
        }
    }

    /// <summary>Moves buffered text into the line; the line if it ended.</summary>
    string? TakeLine()
    {
        int newline = Array.IndexOf(buffer, '\n', position, length - position);
        int take = (newline < 0 ? length : newline) - position;
        if (line.Length + take > maxChars)
            throw new R1Error($"{source}:{LineNumber + 1}: line longer than {maxChars:N0} characters");
        line.Append(buffer, position, take);
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
        if (line.Length > 0 && line[^1] == '\r') line.Length--;
        string text = line.ToString();
        line.Clear();
        return text;
    }
}
