namespace ModelBuild.Onnx.Diagnostics;

/// <summary>
/// A user error with a stable <c>MBxxxx</c> code: one line of cause and one line of remedy, naming the
/// file or item at fault. The CLI maps it to exit code 2 (bad input) and the MSBuild task to a build error
/// with the same code, so a code means the same thing wherever it is seen.
/// </summary>
public class ModelBuildException(string code, string cause, string remedy, string? file = null, Exception? inner = null)
    : Exception(cause, inner)
{
    /// <summary>The diagnostic code, e.g. <c>MB0001</c>. See docs/diagnostics.md.</summary>
    public string Code { get; } = code;

    /// <summary>What went wrong, in one line.</summary>
    public string Cause { get; } = cause;

    /// <summary>What the user can do about it, in one line.</summary>
    public string Remedy { get; } = remedy;

    /// <summary>The file (or item) at fault, when there is one.</summary>
    public string? File { get; } = file;

    /// <summary>The exit code the CLI returns for this error (2: bad input; 1: a failed quality gate).</summary>
    public virtual int ExitCode => 2;

    /// <summary>The two-line form used by the CLI and the MSBuild task: <c>MB0001: cause</c> then the remedy.</summary>
    public override string ToString() =>
        $"{(File is null ? "" : File + ": ")}error {Code}: {Cause}{Environment.NewLine}  fix: {Remedy}";
}
