using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

// The experimental image operators of opsets 1-9 (removed at 10), written as the standard operators that compute the
// same (their definitions in ONNX's Changelog and ONNX Runtime's contrib kernels).

/// <summary>
/// ImageScaler (y = scale * x + bias[c] on NCHW, bias as [1,C,1,1]) and Affine (y = alpha * x + beta): one affine map,
/// Mul then Add (just the Mul when ImageScaler has no bias).
/// </summary>
internal sealed class ScaleShiftAdapter() : OpsetAdapter(10, ["ImageScaler", "Affine"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var type = context.ElementType(node.Input[0]);
        var y = node.Output[0];
        var bias = node.GetFloats("bias");
        Func<string> scale = node.OpType == "Affine"
            ? () => context.Scalar($"{y}_alpha", node.GetFloat("alpha", 1f), type)
            : () => context.Scalar($"{y}_scale", node.GetFloat("scale", 1f), type);
        Func<string>? shift = node.OpType == "Affine" ? () => context.Scalar($"{y}_beta", node.GetFloat("beta", 0f), type)
            : bias is null ? null : () => context.Floats($"{y}_bias", bias, type, 1, bias.Length, 1, 1);
        // The constants are made when the nodes take them, scale first, so their names come in the same order as before.
        var scaled = context.UniqueName($"{y}_scaled");
        var mul = context.Node("Mul", node, [node.Input[0], scale()], [scaled]);
        if (shift is null)
        {
            mul.Output[0] = y;
            return [mul];
        }
        return [mul, context.Node("Add", node, [scaled, shift()], [y])];
    }
}

/// <summary>
/// Crop on NCHW: border = [left, top, right, bottom]; with <c>scale</c> = [h, w] the output is h x w from (top, left),
/// else the image minus the borders -> Slice over axes 2 and 3.
/// </summary>
internal sealed class CropAdapter() : OpsetAdapter(10, ["Crop"])
{
    public override IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context)
    {
        var border = node.GetInts("border");
        if (border is not { Length: 4 }) return context.Refuse(node, "'border' must have 4 values");
        var (left, top, right, bottom) = (border[0], border[1], border[2], border[3]);
        long[] ends = node.GetInts("scale") is { Length: 2 } scale
            ? [top + scale[0], left + scale[1]]
            : [bottom == 0 ? long.MaxValue : -bottom, right == 0 ? long.MaxValue : -right];
        var y = node.Output[0];
        var slice = context.Node("Slice", node,
            [node.Input[0], context.Int64s($"{y}_starts", top, left), context.Int64s($"{y}_ends", ends), context.Int64s($"{y}_axes", 2, 3)], [y]);
        return [slice];
    }
}
