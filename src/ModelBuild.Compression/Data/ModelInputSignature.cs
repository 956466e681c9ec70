using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Compression.Data;

/// <summary>
/// What a data file has to become for one model input: its name, dimensions (0 or less = dynamic) and whether it takes
/// floats or integer ids. Image folders take H, W and channels from it; token-id files the sequence length.
/// </summary>
public sealed record ModelInputSignature(string Name, long[] Dimensions, bool IsFloat)
{
    /// <summary>Every input of <paramref name="modelPath"/>, in graph order, read through ONNX Runtime (MB0507 when it cannot).</summary>
    public static IReadOnlyList<ModelInputSignature> AllFromModel(string modelPath)
    {
        using var session = OrtSessions.OpenForInputs(modelPath);
        return session.InputMetadata.Keys.Select(name =>
        {
            var meta = session.InputMetadata[name];
            return new ModelInputSignature(name, meta.Dimensions.Select(d => (long)d).ToArray(),
                meta.ElementDataType is TensorElementType.Float or TensorElementType.Float16 or TensorElementType.Double);
        }).ToArray();
    }

    /// <summary>The one input of a single-input model; MB0508 when the model has several.</summary>
    public static ModelInputSignature FromModel(string modelPath)
    {
        var all = AllFromModel(modelPath);
        return all.Count == 1 ? all[0] : throw InputSetErrors.SeveralModelInputs(modelPath, all.Select(i => i.Name).ToList());
    }

    /// <summary>
    /// As <see cref="FromModel"/>, but null for a model with several inputs: data for such a model is read as the file
    /// says (a .npz by input names), and binding to the model decides whether it fits.
    /// </summary>
    public static ModelInputSignature? FromSingleInputModel(string modelPath)
    {
        var all = AllFromModel(modelPath);
        return all.Count == 1 ? all[0] : null;
    }

    /// <summary>A fixed dimension, or null when the model leaves it dynamic (or does not have it).</summary>
    public long? Fixed(int axis) => axis < Dimensions.Length && Dimensions[axis] > 0 ? Dimensions[axis] : null;

    /// <summary>Elements per sample when every dimension after the batch is fixed.</summary>
    public long? FixedSampleSize => Dimensions.Skip(1).All(d => d > 0) ? Dimensions.Skip(1).Aggregate(1L, (a, b) => a * b) : null;
}
