namespace ModelBuild.Runtime;

/// <summary>
/// A user error in the runtime: a stable MB07xx code, one line of cause and one of remedy, naming the model/item.
/// The runtime does not reference the other ModelBuild projects, so it carries its own exception type with the
/// same shape as ModelBuild.Onnx's ModelBuildException.
/// </summary>
public sealed class ModelRuntimeException : Exception
{
    public ModelRuntimeException(string code, string cause, string remedy, string? item = null, Exception? inner = null)
        : base($"{code}: {cause} Fix: {remedy}", inner)
    {
        Code = code;
        Cause = cause;
        Remedy = remedy;
        Item = item;
    }

    /// <summary>The MB07xx code.</summary>
    public string Code { get; }

    public string Cause { get; }

    public string Remedy { get; }

    /// <summary>The model name, file or URI at fault, when there is one.</summary>
    public string? Item { get; }
}
