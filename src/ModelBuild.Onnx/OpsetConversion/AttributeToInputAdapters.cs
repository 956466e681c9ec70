using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

// Operators whose parameters moved from attributes to (constant) inputs with the same meaning. ONNX adapters:
// axes_attribute_to_input (Squeeze/Unsqueeze/ReduceSum 13), split_12_13, slice_9_10, pad_10_11, topk_9_10, dropout_11_12.

/// <summary>
/// Squeeze/Unsqueeze/ReduceSum-13 (<c>axes</c>) and Split-13 (<c>split</c> sizes): the int64 list attribute became an
/// optional int64 input.
/// </summary>
internal sealed class IntsToInputAdapter() : OpsetAdapter(13, ["Squeeze", "Unsqueeze", "ReduceSum", "Split"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var attribute = node.OpType == "Split" ? "split" : "axes";
        if (attribute == "split" && node.GetInts("split") is not null && node.Input.Count > 1) return context.Refuse(node, "both a 'split' attribute and a second input");
        context.IntsAttributeToInput(node, attribute);
        return [node];
    }
}

/// <summary>Slice-10: <c>starts</c>/<c>ends</c>/<c>axes</c> became int64 inputs.</summary>
internal sealed class SliceAdapter() : OpsetAdapter(10, ["Slice"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        if (node.Input.Count > 1) return [node]; // already in the input form
        if (node.GetInts("starts") is null || node.GetInts("ends") is null) return context.Refuse(node, "Slice-1 without 'starts' and 'ends'");
        foreach (var attribute in new[] { "starts", "ends", "axes" }) context.IntsAttributeToInput(node, attribute);
        return [node];
    }
}

/// <summary>Pad-11: <c>pads</c> (Pad-1: <c>paddings</c>) and <c>value</c> became inputs; <c>mode</c> stays.</summary>
internal sealed class PadAdapter() : OpsetAdapter(11, ["Pad"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var pads = node.GetInts("pads") ?? node.GetInts("paddings");
        if (pads is null) return context.Refuse(node, "Pad without 'pads'");
        var value = node.GetFloat("value", 0f);
        var hasValue = node.HasAttribute("value");
        node.RemoveAttributes("pads", "paddings", "value");
        node.Input.Add(context.Int64s($"{node.Output[0]}_pads", pads));
        if (hasValue) node.Input.Add(context.Scalar($"{node.Output[0]}_value", value, context.ElementType(node.Input[0])));
        return [node];
    }
}

/// <summary>TopK-10: <c>k</c> became a 1-element int64 input.</summary>
internal sealed class TopKAdapter() : OpsetAdapter(10, ["TopK"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        if (node.Find("k") is not { } k) return context.Refuse(node, "TopK-1 without 'k'");
        node.RemoveAttributes("k");
        node.Input.Add(context.Int64s($"{node.Output[0]}_k", k.I));
        return [node];
    }
}

/// <summary>Dropout-12: <c>ratio</c> became an optional input (at inference Dropout is the identity either way); <c>is_test</c> went at 7.</summary>
internal sealed class DropoutAdapter() : OpsetAdapter(12, ["Dropout"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var ratio = node.Find("ratio");
        node.RemoveAttributes("ratio", "is_test", "seed");
        if (ratio is not null) node.Input.Add(context.Scalar($"{node.Output[0]}_ratio", ratio.F, context.ElementType(node.Input[0])));
        return [node];
    }
}
