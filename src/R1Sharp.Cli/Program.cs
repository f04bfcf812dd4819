return R1Sharp.Cli.CliApp.Run(args);
