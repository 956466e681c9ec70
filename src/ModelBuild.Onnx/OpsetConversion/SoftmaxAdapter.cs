using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>
/// Softmax/LogSoftmax/Hardmax-13: before 13 the input was coerced to 2-D at <c>axis</c> (default 1) and normalized over
/// all dimensions from <c>axis</c> on; from 13 they normalize over the single dimension <c>axis</c> (default -1). When
/// <c>axis</c> is the last dimension both mean the same and only the attribute is made explicit; otherwise the old
/// meaning is spelt out as Flatten(axis) -> op(axis=1) -> Reshape(Shape(x)) (ONNX adapter softmax_12_13).
/// </summary>
internal sealed class SoftmaxAdapter() : OpsetAdapter(13, ["Softmax", "LogSoftmax", "Hardmax"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var axis = node.GetInt("axis", 1);
        var rank = context.Rank(node.Input[0]);
        if (axis == -1 || (rank is { } r && (axis == r - 1 || axis + r == r - 1)))
        {
            node.RemoveAttributes("axis");
            node.Attribute.Add(NodeAttributes.Int("axis", -1));
            return [node];
        }
        var x = node.Input[0];
        var y = node.Output[0];
        var shape = context.UniqueName($"{y}_shape");
        var flat = context.UniqueName($"{y}_flat");
        var normalized = context.UniqueName($"{y}_2d");
        var shapeNode = context.Node("Shape", node, [x], [shape]);
        var flatten = context.Node("Flatten", node, [x], [flat], NodeAttributes.Int("axis", axis));
        node.RemoveAttributes("axis");
        node.Attribute.Add(NodeAttributes.Int("axis", 1));
        node.Input[0] = flat;
        node.Output[0] = normalized;
        var reshape = context.Node("Reshape", node, [normalized, shape], [y]);
        return [shapeNode, flatten, node, reshape];
    }
}
