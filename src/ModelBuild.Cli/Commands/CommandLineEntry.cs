using System.CommandLine;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// Parses and runs a command line under the CLI contract: a command line that does not parse (unknown option or
/// argument, missing or bad value) is bad input, exit 2 with MB0560, not System.CommandLine's default 1, which the
/// contract reserves for a failed gate; an exception no command mapped is a bug, exit 3 with MB0599.
/// </summary>
public static class CommandLineEntry
{
    public const string ParseErrorCode = "MB0560";

    public static int Run(string[] args) => Run(args, new InvocationConfiguration());

    public static int Run(string[] args, InvocationConfiguration configuration)
    {
        var parse = CommandCatalog.CreateRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = string.Join(' ', new[] { "modelbuild" }.Concat(parse.CommandResult.Command == parse.RootCommandResult.Command ? [] : [parse.CommandResult.Command.Name]));
            var cause = $"The command line is not understood: {string.Join("; ", parse.Errors.Select(e => e.Message))}";
            var remedy = $"Run `{command} --help` for the options and arguments it takes.";
            // The worker protocol line on stdout (what the MSBuild task reads), the two-line form on stderr.
            configuration.Output.WriteLine(WorkerProtocol.Error(ParseErrorCode, cause, remedy));
            configuration.Error.WriteLine(new ModelBuildException(ParseErrorCode, cause, remedy).ToString());
            return 2;
        }
        // Commands map their own errors; what escapes them is a bug, reported as MB0599 rather than as exit 1.
        configuration.EnableDefaultExceptionHandler = false;
        return CommandErrors.Run(() => parse.Invoke(configuration), configuration.Output, configuration.Error);
    }
}
