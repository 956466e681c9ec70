using ModelBuild.Cli.Commands;

namespace ModelBuild.Cli.Tests;

/// <summary>How the CLI maps exceptions to the worker protocol and exit codes.</summary>
public class CommandErrorsTests
{
    [Fact]
    public void An_unexpected_exception_is_MB0599_with_exit_code_3()
    {
        var output = ModelBuild.TestSupport.ProducedCodes.Observing(new StringWriter()); // the product writes MB0599 here
        var error = new StringWriter();
        var exit = CommandErrors.Run(() => throw new InvalidOperationException("boom\nsecond line"), output, error);
        Assert.Equal(CommandErrors.InternalErrorExitCode, exit);
        Assert.Equal("##modelbuild[error MB0599] Internal error: boom | Report this with the command line and the model; the stack trace is on stderr.",
            output.ToString()!.TrimEnd());
        Assert.Contains("InvalidOperationException", error.ToString());
    }

    [Fact]
    public void A_modelbuild_exception_keeps_its_code_and_exit_code()
    {
        var output = new StringWriter();
        var exit = CommandErrors.Run(() => throw new ModelBuild.Onnx.Diagnostics.ModelBuildException("MB0513", "bad recipe", "fix it", "r.json"), output, new StringWriter());
        Assert.Equal(2, exit);
        Assert.Equal("##modelbuild[error MB0513] bad recipe | fix it", output.ToString().TrimEnd());
    }
}
