using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

internal static partial class CouplingRules
{
    private static void CouplePool(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingResult result)
    {
        if (span.Axis > 1 || (!onOutput && index != 0))
        {
            throw new CouplingException($"{node.OpType} ({NodeName(node)}) pools over the pruned axis");
        }
        result.Spans.Add(span with { Tensor = onOutput ? node.Input[0] : node.Output[0] });
    }

    private static void CoupleReduce(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        if (!onOutput && index != 0)
        {
            throw new CouplingException($"{node.OpType} ({name}) axes input cannot carry units");
        }
        int rank = ctx.Rank(node.Input[0]);
        long[]? axesValues = Ints(node, "axes");
        if (axesValues is null && node.Input.Count > 1 && node.Input[1].Length > 0)
        {
            axesValues = ctx.Initializers.TryGetValue(node.Input[1], out var t)
                ? TensorData.ToInt64Array(t)
                : throw new CouplingException($"{node.OpType} ({name}) axes are computed at run time");
        }
        var axes = (axesValues ?? Enumerable.Range(0, rank).Select(i => (long)i)).Select(a => Normalize(a, rank)).ToHashSet();
        bool keep = Attribute(node, "keepdims", 1) != 0;
        if (onOutput)
        {
            int inAxis = span.Axis;
            if (!keep)
            {
                inAxis = Enumerable.Range(0, rank).Where(a => !axes.Contains(a)).ElementAt(span.Axis);
            }
            result.Spans.Add(span with { Tensor = node.Input[0], Axis = inAxis });
            return;
        }
        if (axes.Contains(span.Axis))
        {
            // LayerNorm statistics over the pruned width: the output has size 1 there, so coupling stops,
            // but the statistic is now taken over fewer features.
            result.ReducesOverUnits = true;
            return;
        }
        int outAxis = keep ? span.Axis : span.Axis - axes.Count(a => a < span.Axis);
        result.Spans.Add(span with { Tensor = node.Output[0], Axis = outAxis });
    }

    private static void CoupleSoftmax(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        int rank = ctx.Rank(node.Input[0]);
        int axis = Normalize(Attribute(node, "axis", ctx.Opset >= 13 ? -1 : 1), rank);
        // Before opset 13 the input is coerced to 2-D at `axis`, so every axis from there on is normalized together.
        bool normalizedOver = ctx.Opset >= 13 ? span.Axis == axis : span.Axis >= axis;
        if (normalizedOver)
        {
            throw new CouplingException($"{node.OpType} ({NodeName(node)}) normalizes over the pruned axis");
        }
        result.Spans.Add(span with { Tensor = onOutput ? node.Input[0] : node.Output[0] });
    }

    private static void CoupleGather(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        string data = node.Input[0];
        if (!ctx.IsInitializer(data))
        {
            // Selecting positions of an activation along another axis (BERT's pooler reads [CLS]: Gather(hidden, 0,
            // axis=1)) keeps every unit of the pruned axis.
            CoupleGatherPassThrough(node, span, onOutput, index, ctx, result);
            return;
        }
        if (!onOutput || Attribute(node, "axis", 0) != 0)
        {
            throw new CouplingException($"Gather ({name}) is not an embedding lookup the pruned units pass through");
        }
        int indicesRank = ctx.Rank(node.Input[1]);
        if (span.Axis < indicesRank)
        {
            throw new CouplingException($"Gather ({name}) would be pruned along its index axes");
        }
        result.Parameters.Add(new ParameterSlice(data, span.Axis - indicesRank + 1, span.UnitSize, span.Offset, ParameterRole.Embedding, name));
    }

    private static void CoupleGatherPassThrough(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        if (!onOutput && index != 0)
        {
            throw new CouplingException($"Gather ({name}) indices cannot carry units");
        }
        int rank = ctx.Rank(node.Input[0]);
        int axis = (int)Attribute(node, "axis", 0);
        if (axis < 0)
        {
            axis += rank;
        }
        int indicesRank = ctx.Rank(node.Input[1]);
        if (onOutput)
        {
            if (span.Axis >= axis && span.Axis < axis + indicesRank)
            {
                throw new CouplingException($"Gather ({name}) would be pruned along its index axes");
            }
            result.Spans.Add(span with { Tensor = node.Input[0], Axis = span.Axis < axis ? span.Axis : span.Axis - indicesRank + 1 });
        }
        else
        {
            if (span.Axis == axis)
            {
                throw new CouplingException($"Gather ({name}) selects along the pruned axis");
            }
            result.Spans.Add(span with { Tensor = node.Output[0], Axis = span.Axis < axis ? span.Axis : span.Axis + indicesRank - 1 });
        }
    }

    /// <summary>
    /// LayerNormalization (opset 17): a span before the normalized axes passes through; a span on a normalized axis
    /// slices the scale and bias with the units and continues on the output, and the statistics are then taken over
    /// fewer features (as for the decomposed LayerNorm's ReduceMean).
    /// </summary>
    private static void CoupleLayerNormalization(NodeProto node, ChannelSpan span, bool onOutput, int index, CouplingContext ctx, CouplingResult result)
    {
        string name = NodeName(node);
        if (index != 0)
        {
            throw new CouplingException($"LayerNormalization ({name}) {(onOutput ? "statistics outputs" : "scale/bias inputs")} cannot carry units");
        }
        int rank = ctx.Rank(node.Input[0]);
        int axis = Normalize(Attribute(node, "axis", -1), rank);
        result.Spans.Add(span with { Tensor = onOutput ? node.Input[0] : node.Output[0] });
        if (span.Axis < axis)
        {
            return;
        }
        if (node.Output.Skip(1).Any(o => o.Length > 0))
        {
            throw new CouplingException($"LayerNormalization ({name}) exposes its statistics over the pruned axis");
        }
        for (int i = 1; i < node.Input.Count && i <= 2; i++)
        {
            string p = node.Input[i];
            if (p.Length == 0)
            {
                continue;
            }
            if (!ctx.IsInitializer(p))
            {
                throw new CouplingException($"LayerNormalization ({name}) {(i == 1 ? "scale" : "bias")} is computed at run time");
            }
            int pAxis = span.Axis - (rank - ctx.Rank(p));
            if (pAxis < 0)
            {
                continue;
            }
            result.Parameters.Add(new ParameterSlice(p, pAxis, span.UnitSize, span.Offset, i == 1 ? ParameterRole.NormalizationScale : ParameterRole.NormalizationState, name));
        }
        result.ReducesOverUnits = true;
    }
}
