using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Turns a model exported with a fixed batch of 1 (mnist-cnn-pytorch) into one that takes any batch, so it can be
/// trained and evaluated in batches: axis 0 of inputs and outputs becomes a named dimension, and a Reshape constant
/// that hard-codes the batch as 1 copies it from its input instead (0). Batch-1 inputs give the same results.
/// </summary>
public static class DynamicBatch
{
    public static bool IsFixedBatchOne(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        return model.Graph.Input.Where(i => !initializers.Contains(i.Name)).Any(i =>
            i.Type?.TensorType?.Shape?.Dim is { Count: > 0 } dims && dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dims[0].DimValue == 1);
    }

    public static void Apply(ModelProto model)
    {
        GraphNormalizer.Normalize(model);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        foreach (var value in model.Graph.Input.Where(i => !initializers.ContainsKey(i.Name)).Concat(model.Graph.Output))
        {
            if (value.Type?.TensorType?.Shape?.Dim is { Count: > 0 } dims && dims[0].DimValue == 1)
            {
                dims[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
            }
        }
        foreach (var node in model.Graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count > 1))
        {
            if (initializers.TryGetValue(node.Input[1], out var shape) && shape.Dims.Count == 1 && shape.Dims[0] > 0)
            {
                long[] values = ModelBuild.Onnx.Tensors.TensorData.ToInt64Array(shape);
                if (values[0] == 1)
                {
                    values[0] = 0;
                    ModelBuild.Onnx.Tensors.TensorData.SetData<long>(shape, values);
                }
            }
        }
        model.Graph.ValueInfo.Clear();
    }

    /// <summary>Declares axis 0 of inputs and outputs as 1 again (Reshape constants keep copying the batch, which is equivalent).</summary>
    public static void RestoreBatchOne(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        foreach (var value in model.Graph.Input.Where(i => !initializers.Contains(i.Name)).Concat(model.Graph.Output))
        {
            if (value.Type?.TensorType?.Shape?.Dim is { Count: > 0 } dims && dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam)
            {
                dims[0] = new TensorShapeProto.Types.Dimension { DimValue = 1 };
            }
        }
    }
}
