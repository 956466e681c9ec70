using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// A one-sample input built from the model's input signature, for timing when no data file was given.
/// Values are deterministic (a fixed-seed generator): floats in [0, 1) (also for float16 inputs, converted when fed),
/// integer inputs all 1 (a valid token id).
/// </summary>
public static class SyntheticSample
{
    /// <summary>Null when the model has several inputs (timing needs one input tensor).</summary>
    public static DataTensor? TryFor(string modelPath)
    {
        try { return For(modelPath); }
        catch (ModelBuild.Onnx.Diagnostics.ModelBuildException e) when (e.Code == "MB0508") { return null; }
    }

    /// <summary>The height and width a synthetic image gets when the model leaves them symbolic.</summary>
    public const long SpatialSize = 224;

    public static DataTensor For(string modelPath)
    {
        using var runner = new ModelRunner(modelPath);
        var meta = runner.InputMetadata.Dimensions;
        // A symbolic height/width of an image input ([N,C,H,W]) is timed at 224x224, the usual ImageNet size; other symbolic dims at 1.
        var dims = meta.Select((d, i) => i == 0 ? 1L : d > 0 ? d : meta.Length == 4 && i >= 2 ? SpatialSize : 1L).ToArray();
        var count = (int)dims.Aggregate(1L, (a, b) => a * b);
        if (runner.InputMetadata.ElementDataType is TensorElementType.Float or TensorElementType.Float16)
        {
            var random = new Random(1234);
            var values = new float[count];
            for (var i = 0; i < count; i++) values[i] = (float)random.NextDouble();
            return new DataTensor("<synthetic>", dims, values, null, "float32");
        }
        return new DataTensor("<synthetic>", dims, null, Enumerable.Repeat(1L, count).ToArray(), "int64");
    }
}
