using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Pipeline;

/// <summary>A quality gate (accuracy drop, agreement, latency) was not met: exit code 1, and no output is written.</summary>
public sealed class QualityGateException(string code, string cause, string remedy, string? file = null)
    : ModelBuildException(code, cause, remedy, file)
{
    public override int ExitCode => 1;
}
