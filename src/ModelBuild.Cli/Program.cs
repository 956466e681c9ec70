using ModelBuild.Cli.Commands;

// Each command lives in its own file under Commands/ and is registered in CommandCatalog.
return CommandCatalog.CreateRoot().Parse(args).Invoke();
