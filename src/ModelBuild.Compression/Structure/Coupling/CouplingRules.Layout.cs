using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

internal static partial class CouplingRules
{
    /// <summary>
    /// Reshape, Flatten, Squeeze and Unsqueeze keep the element order, so a block of units maps to a block on
    /// the output axis whose leading dims multiply to the same outer count. A block that does not divide evenly
    /// (one neuron of a Q projection reshaped to [.., heads, head_dim]) asks for a coarser unit: a whole head.
    /// </summary>
    private static void CoupleLayout(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        if (!onOutput && index != 0)
        {
            throw new CouplingException($"{node.OpType} ({name}) shape input cannot carry units");
        }
        string input = node.Input[0], output = node.Output[0];
        long[] from = ctx.Shape(onOutput ? output : input);
        long[] to = ctx.Shape(onOutput ? input : output);
        var mapped = MapThroughLayout(from, to, span, name);
        mapped = mapped with { Tensor = onOutput ? input : output };
        result.Spans.Add(mapped);
        if (node.OpType != "Reshape")
        {
            return;
        }
        var outSpan = onOutput ? span : mapped;
        var inSpan = onOutput ? mapped : span;
        string shapeName = node.Input[1];
        if (!ctx.Initializers.TryGetValue(shapeName, out var shapeTensor))
        {
            throw new CouplingException($"Reshape ({name}) target shape is computed at run time");
        }
        long[] target = TensorData.ToInt64Array(shapeTensor);
        long entry = target[outSpan.Axis];
        if (entry > 0)
        {
            result.ShapeEdits.Add(new ShapeConstantEdit(shapeName, outSpan.Axis, outSpan.UnitSize, name));
        }
        else if (entry == 0 && inSpan.Axis != outSpan.Axis)
        {
            throw new CouplingException($"Reshape ({name}) copies dim {outSpan.Axis} from an input axis that does not carry the units");
        }
    }

    internal static ChannelSpan MapThroughLayout(long[] from, long[] to, ChannelSpan span, string name)
    {
        long outer = Product(from.Take(span.Axis));
        long inner = Product(from.Skip(span.Axis + 1));
        for (int k = 0; k < to.Length; k++)
        {
            if (to[k] == 1 || Product(to.Take(k)) != outer)
            {
                continue;
            }
            long innerOut = Product(to.Skip(k + 1));
            long block = span.UnitSize * inner;
            long offset = span.Offset * inner;
            if (block % innerOut != 0 || offset % innerOut != 0)
            {
                long g = Gcd(block, innerOut);
                throw new CouplingException($"{name} splits a unit of {span.UnitSize} across axes", checked((int)(innerOut / g)));
            }
            return new ChannelSpan("", k, checked((int)(block / innerOut)), checked((int)(offset / innerOut)));
        }
        throw new CouplingException($"{name} mixes the pruned axis with the axes before it");
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    private static void CoupleTranspose(NodeProto node, ChannelSpan span, bool onOutput, CouplingContext ctx, CouplingResult result)
    {
        int rank = ctx.Rank(node.Input[0]);
        long[] perm = Ints(node, "perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        if (onOutput)
        {
            result.Spans.Add(span with { Tensor = node.Input[0], Axis = (int)perm[span.Axis] });
        }
        else
        {
            result.Spans.Add(span with { Tensor = node.Output[0], Axis = Array.IndexOf(perm, (long)span.Axis) });
        }
    }

    private static void CoupleConcat(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        int rank = ctx.Rank(node.Output[0]);
        int axis = Normalize(Attribute(node, "axis", 1), rank);
        if (span.Axis != axis)
        {
            // Concatenating along another axis: every operand carries the same units.
            foreach (string operand in node.Input.Append(node.Output[0]).Distinct().Where(o => o != span.Tensor))
            {
                if (ctx.IsInitializer(operand))
                {
                    result.Parameters.Add(new ParameterSlice(operand, span.Axis, span.UnitSize, span.Offset, ParameterRole.Bias, name));
                }
                else
                {
                    result.Spans.Add(span with { Tensor = operand });
                }
            }
            return;
        }
        var starts = new long[node.Input.Count];
        long cursor = 0;
        for (int i = 0; i < node.Input.Count; i++)
        {
            starts[i] = cursor;
            cursor += ctx.Shape(node.Input[i])[axis];
        }
        if (!onOutput)
        {
            result.Spans.Add(span with { Tensor = node.Output[0], Offset = checked((int)(span.Offset + starts[index])) });
            return;
        }
        long begin = span.Offset, end = span.Offset + (long)ctx.Units * span.UnitSize;
        for (int i = 0; i < node.Input.Count; i++)
        {
            long size = ctx.Shape(node.Input[i])[axis];
            if (begin >= starts[i] && end <= starts[i] + size)
            {
                var inner = span with { Tensor = node.Input[i], Offset = checked((int)(begin - starts[i])) };
                if (ctx.IsInitializer(inner.Tensor))
                {
                    result.Parameters.Add(new ParameterSlice(inner.Tensor, axis, inner.UnitSize, inner.Offset, ParameterRole.Bias, name));
                }
                else
                {
                    result.Spans.Add(inner);
                }
                return;
            }
        }
        throw new CouplingException($"Concat ({name}) units straddle two of its inputs");
    }
}
