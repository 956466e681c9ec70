using System.CommandLine;
using ModelBuild.Cli.Commands;

// Each command lives in its own file under Commands/ and is registered here.
var root = new RootCommand("modelbuild: compress ONNX models (distillation, pruning, quantization) and inspect them.");
foreach (var command in CommandCatalog.All())
{
    root.Subcommands.Add(command);
}
return root.Parse(args).Invoke();
