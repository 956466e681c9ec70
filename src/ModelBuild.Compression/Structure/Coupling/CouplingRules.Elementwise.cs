using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

internal static partial class CouplingRules
{
    /// <summary>One data input, same-shaped output: units pass straight through.</summary>
    private static readonly HashSet<string> UnaryElementwise = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid",
        "HardSwish", "Gelu", "Mish", "ThresholdedRelu", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor",
        "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "Identity", "Dropout", "Cast", "Clip", "IsNaN", "IsInf",
    };

    /// <summary>Numpy-broadcasting operators: every operand that is not size 1 on the aligned axis carries the units.</summary>
    private static readonly HashSet<string> BroadcastElementwise = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "PRelu", "Where", "Equal", "Greater",
        "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Xor", "Mod",
    };

    private static void CoupleUnary(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingResult result)
    {
        if (!onOutput && index != 0)
        {
            // Clip's min/max and similar scalar operands cannot carry units.
            throw new CouplingException($"{node.OpType} ({NodeName(node)}) input {index} is not elementwise data");
        }
        foreach (string output in node.Output.Where(o => o.Length > 0))
        {
            result.Spans.Add(span with { Tensor = output });
        }
        result.Spans.Add(span with { Tensor = node.Input[0] });
    }

    private static void CoupleBroadcast(NodeProto node, ChannelSpan span, CouplingContext ctx, CouplingResult result)
    {
        string output = node.Output[0];
        int outRank = ctx.Rank(output);
        int aligned = span.Axis + (outRank - ctx.Rank(span.Tensor));
        long size = ctx.Shape(span.Tensor)[span.Axis];
        foreach (string operand in node.Input.Append(output).Where(n => n.Length > 0).Distinct())
        {
            if (operand == span.Tensor)
            {
                continue;
            }
            long[] shape = ctx.Shape(operand);
            int axis = aligned - (outRank - shape.Length);
            if (axis < 0 || shape[axis] == 1)
            {
                continue; // broadcast along the units: nothing to slice
            }
            if (shape[axis] != size)
            {
                throw new CouplingException($"{node.OpType} ({NodeName(node)}) operand '{operand}' has {shape[axis]} elements on the pruned axis, expected {size}");
            }
            if (ctx.IsInitializer(operand))
            {
                result.Parameters.Add(new ParameterSlice(operand, axis, span.UnitSize, span.Offset, ParameterRole.Bias, NodeName(node)));
            }
            else
            {
                result.Spans.Add(new ChannelSpan(operand, axis, span.UnitSize, span.Offset));
            }
        }
    }

    private static void CoupleNormalization(NodeProto node, ChannelSpan span, bool onOutput, CouplingResult result)
    {
        result.Spans.Add(span with { Tensor = onOutput ? node.Input[0] : node.Output[0] });
        if (span.Axis != 1)
        {
            return; // per-channel statistics are indexed by axis 1 only
        }
        for (int i = 1; i < node.Input.Count; i++)
        {
            if (node.Input[i].Length == 0)
            {
                continue;
            }
            var role = i == 1 ? ParameterRole.NormalizationScale : ParameterRole.NormalizationState;
            result.Parameters.Add(new ParameterSlice(node.Input[i], 0, span.UnitSize, span.Offset, role, NodeName(node)));
        }
    }
}
