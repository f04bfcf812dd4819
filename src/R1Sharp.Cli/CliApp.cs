using System.CommandLine;
using R1Sharp.Cli.Commands;

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
            MergeCommand.Create(),
            ServeCommand.Create(),
            BenchCommand.Create(),
            ArenaCommand.Create(),
        })
            root.Subcommands.Add(command);
        return root;
    }

    /// <summary>Runs one command line: results to <paramref name="output"/> (default standard output), errors, notes and
    /// progress to <paramref name="errors"/> (default standard error); see <see cref="CliOutput"/>. Exit codes: 0 done,
    /// 2 a user's mistake (<c>error: …</c>), 130 stopped by Ctrl+C or SIGTERM, 1 a failure that is a bug in r1.</summary>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? errors = null)
    {
        R1Sharp.Native.TorchNativeLoader.EnsureLoadable();
        // Ctrl+C or SIGTERM cancels a training run, which saves a checkpoint after its current step and ends as failed;
        // a step that takes longer than this is cut off (the run then resumes from its previous checkpoint).
        var configuration = new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
            Output = output ?? Console.Out, Error = errors ?? Console.Error,
        };
        var cli = CliOutput.Of(configuration);
        try
        {
            var parse = BuildRoot().Parse(args);
            // A mistyped command line is a user error like any other: the same exit code.
            if (parse.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
            {
                foreach (var error in parse.Errors) cli.Error(error.Message);
                return 2;
            }
            return parse.Invoke(configuration);
        }
        catch (OperationCanceledException e)
        {
            cli.Stopped(e.Message);
            return 130;
        }
        catch (Exception e) when (CliErrors.IsUserError(e))
        {
            cli.Error(CliErrors.Message(e));
            return 2;
        }
        catch (Exception e)
        {
            // Not the user's doing: say what failed in one line rather than crash with a stack trace.
            cli.Error($"{CliErrors.Message(e)} ({CliErrors.Unwrap(e).GetType().Name}: this is a bug in r1; please report it with the command line)");
            return 1;
        }
    }
}
