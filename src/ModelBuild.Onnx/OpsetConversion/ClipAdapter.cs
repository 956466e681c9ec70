using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>Clip-11: the <c>min</c>/<c>max</c> attributes became optional scalar inputs of the input's type (ONNX adapter clip_10_11).</summary>
internal sealed class ClipAdapter() : OpsetAdapter(11, ["Clip"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var type = context.ElementType(node.Input[0]);
        var min = node.Find("min");
        var max = node.Find("max");
        node.RemoveAttributes("min", "max");
        if (min is not null || max is not null)
        {
            node.Input.Add(min is null ? "" : context.Scalar($"{node.Output[0]}_min", min.F, type));
            if (max is not null) node.Input.Add(context.Scalar($"{node.Output[0]}_max", max.F, type));
        }
        return [node];
    }
}
