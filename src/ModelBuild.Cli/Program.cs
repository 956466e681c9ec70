using ModelBuild.Cli.Commands;

// Each command lives in its own file under Commands/ and is registered in CommandCatalog;
// CommandLineEntry holds the exit-code contract (2: bad input, including a command line that does not parse).
return CommandLineEntry.Run(args);
