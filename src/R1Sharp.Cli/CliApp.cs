using System.CommandLine;
using R1Sharp.Cli.Commands;
using Spectre.Console;

namespace R1Sharp.Cli;

/// <summary>The `r1` command line: every command, and how a user's mistake becomes a message and exit code 2.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("r1: build, train, evaluate and serve reasoning language models (R1Sharp)");
        // One line per command; each command lives in Commands/<Name>Command.cs.
        foreach (var command in new Command[]
        {
            InitCommand.Create(),
            InspectCommand.Create(),
            GenerateCommand.Create(),
            EvalCommand.Create(),
            RunsCommand.Create(),
            TokenizeCommand.Create(),
            TokenizerCommand.Create(),
            GradeCommand.Create(),
            ExportCommand.Create(),
            BenchCommand.Create(),
        })
            root.Subcommands.Add(command);
        return root;
    }

    public static int Run(string[] args, TextWriter? output = null)
    {
        R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
        if (output is not null) configuration.Output = output;
        try
        {
            return BuildRoot().Parse(args).Invoke(configuration);
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {CliErrors.Message(e)}");
            return 2;
        }
    }
}
