using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Data;

/// <summary>
/// What a data file has to become for a model: its (single) input's name, dimensions (0 or less = dynamic) and whether
/// it takes floats or integer ids. Image folders take H, W and channels from it; token-id files the sequence length.
/// </summary>
public sealed record ModelInputSignature(string Name, long[] Dimensions, bool IsFloat)
{
    /// <summary>Reads the input of <paramref name="modelPath"/> through ONNX Runtime (MB0507/MB0508 when it cannot).</summary>
    public static ModelInputSignature FromModel(string modelPath)
    {
        using var runner = new ModelRunner(modelPath, 1, GraphOptimizationLevel.ORT_DISABLE_ALL);
        var meta = runner.InputMetadata;
        return new ModelInputSignature(runner.InputName, meta.Dimensions.Select(d => (long)d).ToArray(),
            meta.ElementDataType is TensorElementType.Float or TensorElementType.Float16 or TensorElementType.Double);
    }

    /// <summary>
    /// As <see cref="FromModel"/>, but null for a model with several inputs (MB0508): data for such a model is read as
    /// the file says, and the caller's own checks decide whether it fits.
    /// </summary>
    public static ModelInputSignature? FromSingleInputModel(string modelPath)
    {
        try { return FromModel(modelPath); }
        catch (Onnx.Diagnostics.ModelBuildException e) when (e.Code == "MB0508") { return null; }
    }

    /// <summary>A fixed dimension, or null when the model leaves it dynamic (or does not have it).</summary>
    public long? Fixed(int axis) => axis < Dimensions.Length && Dimensions[axis] > 0 ? Dimensions[axis] : null;

    /// <summary>Elements per sample when every dimension after the batch is fixed.</summary>
    public long? FixedSampleSize => Dimensions.Skip(1).All(d => d > 0) ? Dimensions.Skip(1).Aggregate(1L, (a, b) => a * b) : null;
}
