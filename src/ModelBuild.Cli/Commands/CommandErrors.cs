using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>Maps exceptions to the CLI contract: an MBxxxx line on stdout (worker protocol) and stderr, and the exit code.</summary>
internal static class CommandErrors
{
    public const int InternalErrorExitCode = 3;

    public static int Run(Func<int> action) => Run(action, Console.Out, Console.Error);

    public static int Run(Func<int> action, TextWriter output, TextWriter error)
    {
        try
        {
            return action();
        }
        catch (ModelBuildException e)
        {
            output.WriteLine(WorkerProtocol.Error(e.Code, e.Cause, e.Remedy));
            error.WriteLine(e.ToString());
            return e.ExitCode;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            output.WriteLine(WorkerProtocol.Error("MB0599", "Internal error: " + e.Message.Split('\n')[0], "Report this with the command line and the model; the stack trace is on stderr."));
            error.WriteLine(e);
            return InternalErrorExitCode;
        }
    }
}
