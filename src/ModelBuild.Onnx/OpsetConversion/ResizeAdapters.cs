using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>Upsample was removed at 10; Resize-10 has the same inputs (X, scales) and meaning (ONNX adapter upsample_9_10).</summary>
internal sealed class UpsampleAdapter() : OpsetAdapter(10, ["Upsample"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var mode = node.GetString("mode", "nearest");
        if (mode == "bilinear") mode = "linear";
        if (mode is not ("nearest" or "linear")) return context.Refuse(node, $"mode '{mode}'");
        // Upsample-7 carried the scales as an attribute.
        if (node.GetFloats("scales") is { } scales)
            node.Input.Add(context.Floats($"{node.Output[0]}_scales", scales, TensorProto.Types.DataType.Float, scales.Length));
        node.Attribute.Clear();
        node.Attribute.Add(NodeAttributes.String("mode", mode));
        node.OpType = "Resize";
        return [node];
    }
}

/// <summary>
/// Resize-11 added <c>roi</c> (input 1, before <c>scales</c>) and coordinate transformation modes. Resize-10 (like
/// Upsample) maps output to input coordinates as x_out / scale ("asymmetric", ONNX adapter resize_10_11); for nearest,
/// ONNX Runtime's Resize-10 rounds that coordinate down when upsampling and up when downsampling, per axis. So nearest
/// needs constant scales all at least 1 (floor) or all at most 1 (ceil); a mix has no single opset-11 nearest_mode.
/// </summary>
internal sealed class ResizeAdapter() : OpsetAdapter(11, ["Resize"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        if (node.Input.Count != 2) return context.Refuse(node, "Resize-10 needs exactly the inputs X and scales");
        var mode = node.GetString("mode", "nearest");
        var scales = node.Input[1];
        node.Input[1] = context.Floats($"{node.Output[0]}_roi", [], TensorProto.Types.DataType.Float, 0);
        node.Input.Add(scales);
        node.RemoveAttributes("coordinate_transformation_mode", "nearest_mode");
        node.Attribute.Add(NodeAttributes.String("coordinate_transformation_mode", "asymmetric"));
        if (mode == "nearest")
        {
            var values = context.ConstantFloats(scales);
            if (values is null) return context.Refuse(node, "nearest mode with scales computed at run time (the rounding depends on whether each scale is below 1)");
            if (values.Any(v => v < 1) && values.Any(v => v > 1)) return context.Refuse(node, "nearest mode with scales both below and above 1 (ONNX Runtime rounds each axis differently)");
            node.Attribute.Add(NodeAttributes.String("nearest_mode", values.Any(v => v < 1) ? "ceil" : "floor"));
        }
        return [node];
    }
}
