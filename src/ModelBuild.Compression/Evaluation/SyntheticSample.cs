using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// A one-sample input built from the model's input signature, for timing when no data file was given.
/// Values are deterministic (a fixed-seed generator): floats in [0, 1), integer inputs all 1 (a valid token id).
/// </summary>
public static class SyntheticSample
{
    public static DataTensor For(string modelPath)
    {
        using var runner = new ModelRunner(modelPath);
        var dims = runner.InputMetadata.Dimensions.Select((d, i) => i == 0 ? 1L : Math.Max(1, d)).ToArray();
        var count = (int)dims.Aggregate(1L, (a, b) => a * b);
        if (runner.InputMetadata.ElementDataType == TensorElementType.Float)
        {
            var random = new Random(1234);
            var values = new float[count];
            for (var i = 0; i < count; i++) values[i] = (float)random.NextDouble();
            return new DataTensor("<synthetic>", dims, values, null, "float32");
        }
        return new DataTensor("<synthetic>", dims, null, Enumerable.Repeat(1L, count).ToArray(), "int64");
    }
}
