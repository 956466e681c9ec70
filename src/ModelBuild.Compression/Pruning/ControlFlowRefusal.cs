using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Pruning rewrites the channels of one graph; weights inside If/Loop/Scan bodies and the gate-stacked matrices of
/// LSTM/GRU/RNN cells are coupled in ways it does not follow (a body's MatMul reads a tensor of the enclosing graph, a
/// cell's W, R and B are cut together per gate). Such a model is refused, naming each node, rather than half pruned
/// (before: structured pruning left it unchanged without a word, unstructured ended in an internal error).
/// </summary>
public static class ControlFlowRefusal
{
    public const string Code = "MB0220";

    public static void Check(GraphProto graph, string? model)
    {
        var nodes = graph.Node
            .Where(n => n.OpType is "If" or "Loop" or "Scan" or "LSTM" or "GRU" or "RNN" || n.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0))
            .Select(n => $"{n.OpType} '{n.Name}'").ToList();
        if (nodes.Count > 0)
            throw new ModelBuildException(Code,
                $"Pruning does not follow control flow or recurrent cells, and the model has: {string.Join(", ", nodes)}.",
                "Drop --prune for this model and use --quantize (int8-dynamic reaches MatMuls inside If/Loop/Scan and LSTM weights), or export the model without control flow.",
                model);
    }
}
