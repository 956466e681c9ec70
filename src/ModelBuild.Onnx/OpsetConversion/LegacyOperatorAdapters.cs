using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>
/// BatchNormalization-9 dropped <c>spatial</c> (always per channel from then on); <c>is_test</c> went at 7 and
/// <c>consumed_inputs</c> at 6. A node with spatial=0 (per-element statistics) has no opset-9 equivalent.
/// </summary>
internal sealed class BatchNormalizationAdapter() : OpsetAdapter(9, ["BatchNormalization"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        if (node.GetInt("spatial", 1) == 0) return context.Refuse(node, "spatial=0 (per-element statistics) was removed at opset 9");
        node.RemoveAttributes("spatial", "is_test", "consumed_inputs");
        return [node];
    }
}

/// <summary>Scatter was deprecated at 11 in favour of ScatterElements, which means the same.</summary>
internal sealed class ScatterAdapter() : OpsetAdapter(11, ["Scatter"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        node.OpType = "ScatterElements";
        return [node];
    }
}

/// <summary>Scan-9 dropped the batch axis and the sequence_lens input of Scan-8; there is no local rewrite.</summary>
internal sealed class ScanAdapter() : OpsetAdapter(9, ["Scan"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context) =>
        context.Refuse(node, "Scan-8's batch axis and sequence_lens have no Scan-9 equivalent");
}
