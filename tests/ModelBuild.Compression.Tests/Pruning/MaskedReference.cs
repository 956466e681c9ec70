using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Tensors;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// The unpruned model with the removed units' outgoing weights zeroed (the consumers' input slices). Removing
/// a unit from the graph must compute exactly what this masked model computes, which checks every rewrite
/// (initializer slices, Reshape constants, group counts) independently of how the pruner did it.
/// </summary>
internal static class MaskedReference
{
    public static OnnxModel Build(OnnxModel original, PruningResult result)
    {
        var masked = original.Clone();
        GraphNormalizer.Normalize(masked.Proto);
        var initializers = masked.Proto.Graph.Initializer.ToDictionary(t => t.Name);
        foreach (var (group, removed) in result.Plan)
        {
            foreach (var slice in group.Parameters.Where(p => p.Role == ParameterRole.InputWeight))
            {
                var tensor = initializers[slice.Initializer];
                float[] values = TensorData.ToSingleArray(tensor);
                long[] dims = tensor.Dims.ToArray();
                long outer = dims.Take(slice.Axis).Aggregate(1L, (a, b) => a * b);
                long inner = dims.Skip(slice.Axis + 1).Aggregate(1L, (a, b) => a * b);
                foreach (int u in removed)
                {
                    for (int j = 0; j < slice.UnitSize; j++)
                    {
                        long index = slice.Offset + (long)u * slice.UnitSize + j;
                        for (long o = 0; o < outer; o++)
                        {
                            Array.Clear(values, (int)((o * dims[slice.Axis] + index) * inner), (int)inner);
                        }
                    }
                }
                TensorData.SetData<float>(tensor, values);
            }
        }
        masked.InvalidateGraph();
        return masked;
    }
}
