using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Floating-point operations of one batch-1 inference, counted as 2 x multiply-accumulates of the Gemm, MatMul
/// and Conv nodes (the layers pruning shrinks; elementwise work is a small remainder and is left out).
/// </summary>
public static class ModelCost
{
    public static long Flops(ModelProto model, IReadOnlyDictionary<string, long[]> shapes)
    {
        long macs = 0;
        long Elements(string name) => shapes.TryGetValue(name, out var s) ? s.Aggregate(1L, (a, b) => a * b) : 0;
        foreach (var node in model.Graph.Node)
        {
            if (!shapes.ContainsKey(node.Output[0]))
            {
                continue;
            }
            switch (node.OpType)
            {
                case "Gemm":
                    bool transA = node.Attribute.Any(a => a.Name == "transA" && a.I != 0);
                    macs += Elements(node.Output[0]) * shapes[node.Input[0]][transA ? 0 : 1];
                    break;
                case "MatMul":
                    macs += Elements(node.Output[0]) * shapes[node.Input[0]][^1];
                    break;
                case "Conv":
                    long[] w = shapes[node.Input[1]];
                    macs += Elements(node.Output[0]) * w.Skip(1).Aggregate(1L, (a, b) => a * b);
                    break;
            }
        }
        return 2 * macs;
    }
}
