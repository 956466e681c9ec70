namespace ModelBuild.Onnx;

/// <summary>How <see cref="OnnxModel.Save(string, OnnxSaveOptions?)"/> writes the model.</summary>
public sealed record OnnxSaveOptions
{
    /// <summary>
    /// When set, every initializer of at least this many bytes is written to <see cref="ExternalDataFileName"/>
    /// instead of the .onnx file (needed above protobuf's 2 GB limit). Null (the default) keeps all data inline.
    /// </summary>
    public long? ExternalDataThreshold { get; init; }

    /// <summary>The external data file, relative to the model's folder. Default: "&lt;model file name&gt;.data".</summary>
    public string? ExternalDataFileName { get; init; }

    /// <summary>Offsets in the data file are multiples of this (4096 lets ONNX Runtime memory-map the tensors).</summary>
    public int ExternalDataAlignment { get; init; } = 4096;
}
