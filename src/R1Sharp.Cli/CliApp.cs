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
            QuickstartCommand.Create(),
            TrainingCommands.Pretrain(),
            TrainingCommands.Sft(),
            TrainingCommands.Grpo(),
            SampleCommand.Create(),
            DistillCommand.Create(),
            ExperimentCommand.Create(),
            RunsCommand.Create(),
            TokenizeCommand.Create(),
            TokenizerCommand.Create(),
            GradeCommand.Create(),
            ExportCommand.Create(),
            QuantizeCommand.Create(),
            PerplexityCommand.Create(),
            ServeCommand.Create(),
            BenchCommand.Create(),
            ArenaCommand.Create(),
        })
            root.Subcommands.Add(command);
        return root;
    }

    public static int Run(string[] args, TextWriter? output = null)
    {
        R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
        // Ctrl+C or SIGTERM cancels a training run, which saves a checkpoint after its current step and ends as failed;
        // a step that takes longer than this is cut off (the run then resumes from its previous checkpoint).
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TimeSpan.FromSeconds(30) };
        if (output is not null) configuration.Output = output;
        try
        {
            var parse = BuildRoot().Parse(args);
            // A mistyped command line is a user error like any other: the same exit code.
            if (parse.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
            {
                foreach (var error in parse.Errors) AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {error.Message}");
                return 2;
            }
            return parse.Invoke(configuration);
        }
        catch (OperationCanceledException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]stopped:[/] {e.Message}");
            return 130;
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {CliErrors.Message(e)}");
            return 2;
        }
    }
}
