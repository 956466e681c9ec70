namespace ModelBuild.Runtime;

/// <summary>
/// A user error in the runtime: a stable MB07xx code, one line of cause and one of remedy, naming the model/item.
/// The runtime does not reference the other ModelBuild projects, so it carries its own exception type with the
/// same shape as ModelBuild.Onnx's ModelBuildException.
/// </summary>
public sealed class ModelRuntimeException(string code, string cause, string remedy, string? item = null, Exception? inner = null)
    : Exception($"{code}: {cause} Fix: {remedy}", inner)
{
    /// <summary>The MB07xx code.</summary>
    public string Code { get; } = code;

    public string Cause { get; } = cause;

    public string Remedy { get; } = remedy;

    /// <summary>The model name, file or URI at fault, when there is one.</summary>
    public string? Item { get; } = item;
}
