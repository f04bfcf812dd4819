using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using Spectre.Console;

namespace R1Sharp.Cli;

/// <summary>
/// Where every command writes, in one place: <see cref="Results"/> (standard output) gets what the command produces —
/// tables, summaries, generated text, JSON lines, the files it wrote; <see cref="Diagnostics"/> (standard error) gets
/// errors, notes, warnings and progress. So a result redirected to a file or piped to another program holds nothing
/// else, and a redirected log of errors holds no results.
///
/// On a terminal both are Spectre consoles as usual (colour, live progress, the terminal's width). Without one (a file,
/// a pipe, CI) they write plain lines: no escape codes, no wrapping at a guessed width — `COLUMNS` sets one if given —
/// and progress as a line per update rather than a redrawn bar.
///
/// User text (paths, names, messages) never goes into Spectre markup unescaped: the helpers here escape it, and
/// commands write tables with <see cref="Markup.Escape"/>d cells.
/// </summary>
public sealed class CliOutput
{
    /// <summary>Width of a console that is not a terminal and has no COLUMNS: wide enough that nothing wraps.</summary>
    public const int UnwrappedWidth = 1 << 15;

    static readonly ConditionalWeakTable<InvocationConfiguration, CliOutput> ByInvocation = new();

    public CliOutput(TextWriter results, TextWriter diagnostics)
    {
        Results = CreateConsole(results);
        Diagnostics = CreateConsole(diagnostics);
    }

    /// <summary>The output of the invocation <paramref name="parse"/> belongs to (one per <see cref="CliApp.Run"/>).</summary>
    public static CliOutput Of(ParseResult parse) => Of(parse.InvocationConfiguration);

    public static CliOutput Of(InvocationConfiguration configuration) =>
        ByInvocation.GetValue(configuration, c => new CliOutput(c.Output, c.Error));

    /// <summary>Standard output: what the command produces.</summary>
    public IAnsiConsole Results { get; }

    /// <summary>Standard error: errors, notes, progress.</summary>
    public IAnsiConsole Diagnostics { get; }

    /// <summary>Standard output as a plain writer (generated text, JSON lines: never markup).</summary>
    public TextWriter Out => Results.Profile.Out.Writer;

    /// <summary>Standard error as a plain writer.</summary>
    public TextWriter Err => Diagnostics.Profile.Out.Writer;

    /// <summary>A line of result text, written as is.</summary>
    public void Line(string text)
    {
        Out.WriteLine(text);
        Out.Flush();
    }

    /// <summary>"error: MESSAGE" on standard error.</summary>
    public void Error(string message) => Tagged("red", "error", message);

    /// <summary>"note: MESSAGE" on standard error: worth knowing, not a failure.</summary>
    public void Note(string message) => Tagged("yellow", "note", message);

    /// <summary>"stopped: MESSAGE" on standard error (Ctrl+C).</summary>
    public void Stopped(string message) => Tagged("yellow", "stopped", message);

    void Tagged(string colour, string tag, string message)
    {
        Diagnostics.MarkupLine($"[{colour}]{tag}:[/] {Markup.Escape(message)}");
        Err.Flush();
    }

    /// <summary>
    /// Runs <paramref name="work"/>, showing its (done, total) callback as progress on standard error: a live bar on a
    /// terminal, otherwise a plain line "LABEL: done/total (p%)" at the start and at each update.
    /// </summary>
    public T WithProgress<T>(string label, int total, Func<Action<int, int>, T> work) =>
        WithProgressAsync(label, total, report => Task.FromResult(work(report))).GetAwaiter().GetResult();

    /// <summary><see cref="WithProgress"/> for work that awaits (requests to a server).</summary>
    public async Task<T> WithProgressAsync<T>(string label, int total, Func<Action<int, int>, Task<T>> work)
    {
        if (!IsLive(Diagnostics))
        {
            int shown = -1;
            void Report(int done, int all)
            {
                if (done == shown) return;
                shown = done;
                double share = all > 0 ? (double)done / all : 0;
                Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {done}/{all} ({100 * share:0}%)"));
                Err.Flush();
            }
            Report(0, total);
            return await work(Report);
        }
        T result = default!;
        await Diagnostics.Progress().StartAsync(async ctx =>
        {
            var bar = ctx.AddTask(Markup.Escape(label), maxValue: Math.Max(1, total));
            result = await work((done, all) =>
            {
                bar.MaxValue = Math.Max(1, all);
                bar.Value = done;
            });
        });
        return result;
    }

    /// <summary>A live display (progress bar, training panel) needs a terminal that understands cursor movement; CI
    /// logs, files and pipes get plain lines.</summary>
    public static bool IsLive(IAnsiConsole console) =>
        console.Profile.Out.IsTerminal && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi
        && Environment.GetEnvironmentVariable("CI") is null or "" or "false" or "0";

    /// <summary>A console over <paramref name="writer"/>: Spectre's own detection on a terminal; otherwise no escape
    /// codes, not interactive, and COLUMNS wide (or wide enough that nothing wraps).</summary>
    public static IAnsiConsole CreateConsole(TextWriter writer)
    {
        var output = new AnsiConsoleOutput(writer);
        bool terminal = output.IsTerminal;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = output,
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = Columns() ?? UnwrappedWidth;
        return console;
    }

    /// <summary>COLUMNS, when it holds a sensible width.</summary>
    static int? Columns() =>
        int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out int columns)
        && columns is >= 20 and <= UnwrappedWidth ? columns : null;
}
