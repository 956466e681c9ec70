namespace ModelBuild.Onnx;

/// <summary>How <see cref="OnnxModel.Load(string, OnnxLoadOptions?)"/> treats the file.</summary>
public sealed record OnnxLoadOptions
{
    /// <summary>
    /// Read external data into the tensors' raw_data at load time (the default, as onnx.load does), so that
    /// missing or unsafe external files fail at load with their MB00xx code and the model is self-contained.
    /// When false, tensors stay external and are read on demand through <see cref="OnnxModel.ExternalData"/>;
    /// locations are still validated at load.
    /// </summary>
    public bool LoadExternalData { get; init; } = true;
}
