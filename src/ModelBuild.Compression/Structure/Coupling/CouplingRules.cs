using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

/// <summary>
/// Per-operator coupling rules: given a span of units on one input or output of a node, which other tensors,
/// initializers, shape constants and attributes carry the same units. One file per operator family.
/// </summary>
internal static partial class CouplingRules
{
    /// <param name="onOutput">True when <paramref name="span"/> is on the node's output <paramref name="index"/>, false when on its input.</param>
    public static void Couple(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        if (node.Domain is not ("" or "ai.onnx"))
        {
            throw new CouplingException($"operator {node.Domain}.{node.OpType} ({NodeName(node)}) is outside the ONNX domain");
        }
        switch (node.OpType)
        {
            case var op when UnaryElementwise.Contains(op):
                CoupleUnary(node, span, onOutput, index, result);
                break;
            case var op when BroadcastElementwise.Contains(op):
                CoupleBroadcast(node, span, ctx, result);
                break;
            case "BatchNormalization" or "InstanceNormalization":
                CoupleNormalization(node, span, onOutput, result);
                break;
            case "LayerNormalization":
                CoupleLayerNormalization(node, span, onOutput, index, ctx, result);
                break;
            case "Conv":
                CoupleConv(node, span, onOutput, index, ctx, result);
                break;
            case "Gemm":
                CoupleGemm(node, span, onOutput, index, ctx, result);
                break;
            case "MatMul":
                CoupleMatMul(node, span, onOutput, index, ctx, result);
                break;
            case "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze":
                CoupleLayout(node, span, onOutput, index, ctx, result);
                break;
            case "Transpose":
                CoupleTranspose(node, span, onOutput, ctx, result);
                break;
            case "Concat":
                CoupleConcat(node, span, onOutput, index, ctx, result);
                break;
            case "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "LpPool" or "GlobalLpPool":
                CouplePool(node, span, onOutput, index, result);
                break;
            case var op when op.StartsWith("Reduce", StringComparison.Ordinal):
                CoupleReduce(node, span, onOutput, index, ctx, result);
                break;
            case "Softmax" or "LogSoftmax" or "Hardmax":
                CoupleSoftmax(node, span, onOutput, index, ctx, result);
                break;
            case "Gather":
                CoupleGather(node, span, onOutput, index, ctx, result);
                break;
            case "Shape" or "Size":
                throw new CouplingException($"{node.OpType} ({NodeName(node)}) reads the tensor's size at run time");
            default:
                throw new CouplingException($"operator {node.OpType} ({NodeName(node)}) has no pruning rule");
        }
    }

    internal static string NodeName(NodeProto node) => node.Name.Length > 0 ? node.Name : node.OpType + ":" + node.Output.FirstOrDefault();

    internal static long Attribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    internal static long[]? Ints(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.Ints.ToArray() : null;

    internal static int Normalize(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    internal static long Product(IEnumerable<long> values) => values.Aggregate(1L, (a, b) => a * b);
}
