using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The pass the weight-matrix forms (int8-dynamic, int4-weight) share: every node in graph order is offered to the
/// form's <see cref="Rewrite"/> with its MatMul/Gemm/Gather facts when it is one they handle (not excluded); the nodes
/// it returns replace it, null keeps it. Then the float initializers nothing reads any more are dropped.
/// </summary>
internal static class WeightMatrixRewrite
{
    /// <param name="node">The node as it stands in the graph.</param>
    /// <param name="weighted">Its facts when it is a MatMul/Gemm with a float weight or a Gather of a float table; else null.</param>
    /// <returns>The nodes that replace <paramref name="node"/>, or null to keep it.</returns>
    public delegate IEnumerable<NodeProto>? Rewrite(NodeProto node, QuantizableNode? weighted, QdqGraphWriter writer);

    /// <summary>Rewrites <paramref name="graph"/> in place; returns the names of the nodes replaced.</summary>
    public static List<string> Apply(GraphProto graph, IReadOnlySet<string> excluded, Rewrite rewrite)
    {
        var writer = new QdqGraphWriter(graph);
        var candidates = QuantizableNode.FindWeightedMatMuls(graph, excluded);
        var quantized = new List<string>();
        var newNodes = new List<NodeProto>();
        foreach (var node in graph.Node.ToList())
        {
            var replacement = rewrite(node, candidates.GetValueOrDefault(node), writer);
            if (replacement is null) { newNodes.Add(node); continue; }
            newNodes.AddRange(replacement);
            quantized.Add(node.Name);
        }
        graph.Node.Clear();
        graph.Node.AddRange(newNodes);
        QdqGraphWriter.RemoveUnusedInitializers(graph);
        return quantized;
    }
}
