using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Shapes;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// ONNX shape inference (ModelBuild.Onnx's) on a pruned model: every node must infer without failure, and every
/// fully known inferred shape must equal the shape ONNX Runtime produces at run time (batch 1 for dynamic batches).
/// </summary>
internal static class PrunedShapeCheck
{
    public static void AssertInfersConsistently(OnnxModel pruned)
    {
        var proto = pruned.Proto.Clone();
        proto.Graph.ValueInfo.Clear();
        var inferred = ShapeInference.Infer(proto);
        Assert.Empty(inferred.FailedNodes);
        Assert.Empty(inferred.UnsupportedOperators);
        var runtime = TensorShapeProbe.Run(proto);
        int compared = 0;
        foreach (var (name, value) in inferred.Values)
        {
            if (value.IsFullyKnown && runtime.TryGetValue(name, out var actual))
            {
                Assert.True(value.Shape!.Select(d => d.Value).SequenceEqual(actual),
                    $"'{name}': inferred [{string.Join(",", value.Shape!)}], ORT [{string.Join(",", actual)}]");
                compared++;
            }
            else if (value.Shape is { } dims && runtime.TryGetValue(name, out var run))
            {
                // Symbolic batch: the other dims must still agree.
                Assert.Equal(run.Length, dims.Length);
                for (int i = 0; i < dims.Length; i++)
                {
                    if (dims[i].IsKnown)
                    {
                        Assert.Equal(run[i], dims[i].Value);
                    }
                }
                compared++;
            }
        }
        Assert.True(compared > 0);
    }
}
