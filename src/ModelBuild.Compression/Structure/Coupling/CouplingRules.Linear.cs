using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

internal static partial class CouplingRules
{
    private static void CoupleConv(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        if (node.Input.Count < 2 || !ctx.IsInitializer(node.Input[1]))
        {
            throw new CouplingException($"Conv ({name}) has a weight computed at run time");
        }
        if (!onOutput && index != 0)
        {
            throw new CouplingException($"Conv ({name}) input {index} cannot carry units");
        }
        if (span.Axis != 1)
        {
            throw new CouplingException($"Conv ({name}) would need pruning along spatial axis {span.Axis}");
        }
        long[] w = ctx.Shape(node.Input[1]);
        long group = Attribute(node, "group", 1);
        string? bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
        if (group == 1)
        {
            if (onOutput)
            {
                result.Parameters.Add(new ParameterSlice(node.Input[1], 0, span.UnitSize, span.Offset, ParameterRole.OutputWeight, name));
                if (bias is not null)
                {
                    result.Parameters.Add(new ParameterSlice(bias, 0, span.UnitSize, span.Offset, ParameterRole.Bias, name));
                }
            }
            else
            {
                result.Parameters.Add(new ParameterSlice(node.Input[1], 1, span.UnitSize, span.Offset, ParameterRole.InputWeight, name));
            }
            return;
        }
        long inChannels = ctx.Shape(node.Input[0])[1];
        if (w[1] != 1 || group != inChannels)
        {
            throw new CouplingException($"Conv ({name}) is a grouped convolution (group {group}) that is not depthwise");
        }
        // Depthwise: output channel c*m..c*m+m-1 reads input channel c only, so input and output channels
        // are one group, and the group count shrinks with them.
        int multiplier = checked((int)(w[0] / inChannels));
        ChannelSpan inSpan, outSpan;
        if (onOutput)
        {
            if (span.UnitSize % multiplier != 0 || span.Offset % multiplier != 0)
            {
                throw new CouplingException($"Conv ({name}) depthwise multiplier {multiplier} splits a unit", multiplier);
            }
            outSpan = span;
            inSpan = new ChannelSpan(node.Input[0], 1, span.UnitSize / multiplier, span.Offset / multiplier);
        }
        else
        {
            inSpan = span;
            outSpan = new ChannelSpan(node.Output[0], 1, span.UnitSize * multiplier, span.Offset * multiplier);
        }
        result.Spans.Add(inSpan);
        result.Spans.Add(outSpan);
        result.Parameters.Add(new ParameterSlice(node.Input[1], 0, outSpan.UnitSize, outSpan.Offset, ParameterRole.OutputWeight, name));
        if (bias is not null)
        {
            result.Parameters.Add(new ParameterSlice(bias, 0, outSpan.UnitSize, outSpan.Offset, ParameterRole.Bias, name));
        }
        result.ConvGroupEdits.Add(new ConvGroupEdit(name, inSpan.UnitSize));
    }

    private static void CoupleGemm(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        bool transA = Attribute(node, "transA", 0) != 0;
        bool transB = Attribute(node, "transB", 0) != 0;
        if (!ctx.IsInitializer(node.Input[1]))
        {
            throw new CouplingException($"Gemm ({name}) has a weight computed at run time");
        }
        if (!onOutput)
        {
            int featureAxis = transA ? 0 : 1;
            if (index != 0 || span.Axis != featureAxis)
            {
                throw new CouplingException($"Gemm ({name}) input {index} would be pruned along its batch axis");
            }
            result.Parameters.Add(new ParameterSlice(node.Input[1], transB ? 1 : 0, span.UnitSize, span.Offset, ParameterRole.InputWeight, name));
            return;
        }
        if (span.Axis != 1)
        {
            throw new CouplingException($"Gemm ({name}) output would be pruned along its batch axis");
        }
        result.Parameters.Add(new ParameterSlice(node.Input[1], transB ? 0 : 1, span.UnitSize, span.Offset, ParameterRole.OutputWeight, name));
        if (node.Input.Count > 2 && node.Input[2].Length > 0)
        {
            string c = node.Input[2];
            if (!ctx.IsInitializer(c))
            {
                throw new CouplingException($"Gemm ({name}) has a bias computed at run time");
            }
            long[] shape = ctx.Shape(c);
            if (shape.Length > 0 && shape[^1] != 1)
            {
                result.Parameters.Add(new ParameterSlice(c, shape.Length - 1, span.UnitSize, span.Offset, ParameterRole.Bias, name));
            }
        }
    }

    private static void CoupleMatMul(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        string a = node.Input[0], b = node.Input[1], y = node.Output[0];
        int ra = ctx.Rank(a), rb = ctx.Rank(b), r = ctx.Rank(y);
        if (ra < 2 || rb < 2)
        {
            throw new CouplingException($"MatMul ({name}) has a 1-D operand");
        }
        if (ctx.IsInitializer(a))
        {
            throw new CouplingException($"MatMul ({name}) has a constant left operand");
        }
        void Link(string tensor, int axis, ParameterRole role)
        {
            if (ctx.IsInitializer(tensor))
            {
                result.Parameters.Add(new ParameterSlice(tensor, axis, span.UnitSize, span.Offset, role, name));
            }
            else
            {
                result.Spans.Add(new ChannelSpan(tensor, axis, span.UnitSize, span.Offset));
            }
        }
        void LinkBatch(int alignedAxis)
        {
            foreach (var (tensor, rank) in new[] { (a, ra), (b, rb), (y, r) })
            {
                int axis = alignedAxis - (r - rank);
                if (tensor == span.Tensor || axis < 0 || axis >= rank - 2 || ctx.Shape(tensor)[axis] == 1)
                {
                    continue;
                }
                if (ctx.IsInitializer(tensor))
                {
                    throw new CouplingException($"MatMul ({name}) would slice a constant along a batch axis");
                }
                result.Spans.Add(new ChannelSpan(tensor, axis, span.UnitSize, span.Offset));
            }
        }
        if (onOutput)
        {
            if (span.Axis == r - 1) { Link(b, rb - 1, ParameterRole.OutputWeight); }
            else if (span.Axis == r - 2) { Link(a, ra - 2, ParameterRole.OutputWeight); }
            else { LinkBatch(span.Axis); }
        }
        else if (index == 0)
        {
            if (span.Axis == ra - 1) { Link(b, rb - 2, ParameterRole.InputWeight); }
            else if (span.Axis == ra - 2) { result.Spans.Add(new ChannelSpan(y, r - 2, span.UnitSize, span.Offset)); }
            else { LinkBatch(span.Axis + (r - ra)); }
        }
        else
        {
            if (span.Axis == rb - 2) { Link(a, ra - 1, ParameterRole.InputWeight); }
            else if (span.Axis == rb - 1) { result.Spans.Add(new ChannelSpan(y, r - 1, span.UnitSize, span.Offset)); }
            else { LinkBatch(span.Axis + (r - rb)); }
        }
    }
}
