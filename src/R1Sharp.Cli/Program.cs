using System.CommandLine;
using R1Sharp.Cli;
using R1Sharp.Cli.Commands;
using Spectre.Console;

R1Sharp.Native.TorchNativeLoader.EnsureLoadable();

var root = new RootCommand("r1: build, train, evaluate and serve reasoning language models (R1Sharp)");
// One line per command; each command lives in Commands/<Name>Command.cs.
foreach (var command in new Command[]
{
    RunsCommand.Create(),
    TokenizeCommand.Create(),
    TokenizerCommand.Create(),
    GradeCommand.Create(),
    ExportCommand.Create(),
    ServeCommand.Create(),
})
    root.Subcommands.Add(command);

try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (CliErrors.IsUserError(e))
{
    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {CliErrors.Message(e)}");
    return 2;
}
