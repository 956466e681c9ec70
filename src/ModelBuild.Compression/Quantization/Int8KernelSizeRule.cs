using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The nodes int8-static leaves float because ONNX Runtime's CPU int8 kernel is slower than the float one at batch 1,
/// decided from the graph's structure alone (the same graph gives the same file on every machine; the opt-in
/// <see cref="MeasuredExclusion"/> times nodes instead):
/// <list type="bullet">
/// <item>embedding Gathers: the int8 lookup needs a DequantizeLinear after it, one node more than the float lookup,
/// which does no arithmetic to save;</item>
/// <item>MatMul/Gemm whose weight has fewer than <see cref="MinWeightElements"/> values (K x N): the QuantizeLinear in
/// front and the integer kernel's packing and requantization cost more than the multiply-adds they save;</item>
/// <item>a MatMul of two activations where one is a single row per sample (an Unsqueeze at axis -2, as
/// MeanPoolingMatMul writes the pooling weights): quantizing the [B,L,d] operand costs as much as the one row of
/// multiply-adds it saves (0.94x as int8 on the sample's student with <c>--int8-node-timing on</c>, benchmarks/RESULTS.md
/// "Fewer and cheaper nodes for the sample's student").</item>
/// </list>
/// A small node that reads the output of a Conv/Gemm staying int8 stays int8 too (see <c>ReadsQuantizedOutput</c>).
/// Their weights are still stored int8 (<see cref="Int8WeightStorage"/>, folded at load), so the file stays as small.
/// Fused Attentions stay QAttention at every size (even with Attention at d 64, faster from d 128). The threshold
/// was measured once, not at build time: benchmarks/RESULTS.md, "Static int8 by rule" (benchmarks/static-exclusion).
/// </summary>
internal static class Int8KernelSizeRule
{
    /// <summary>
    /// K x N from which a weighted MatMul/Gemm stays int8. Measured per node (int8 against float, batch 1, one thread):
    /// 64 x 64, 64 x 128, 128 x 64 and the 12-wide classifiers slower (0.97-0.99x), 128 x 128 about even (0.94-1.01x
    /// over two runs, 0.98x on average), 128 x 512 and 512 x 128 faster (1.06-1.16x). Nothing was measured in between,
    /// so the threshold sits halfway (in log scale) between the largest that lost and the smallest that won.
    /// </summary>
    public const long MinWeightElements = 128 * 256;

    /// <summary>
    /// Names of the quantizable nodes of <paramref name="graph"/> the rule keeps float, in graph order;
    /// <paramref name="alreadyFloat"/>: nodes left float anyway (the accuracy repair's), never listed.
    /// </summary>
    public static List<string> KeepFloat(GraphProto graph, IReadOnlySet<string> alreadyFloat)
    {
        var initializers = OnnxModelAccess.Initializers(graph);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var o in node.Output) producers[o] = node;
        var quantizable = QuantizableNode.Find(graph).ToDictionary(n => (object)n.Node, ReferenceEqualityComparer.Instance);
        var keep = new List<string>();
        var keptNodes = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var n in quantizable.Values.Where(n => !alreadyFloat.Contains(n.Name)))
        {
            var small = n.Kind switch
            {
                QuantizableKind.GatherEmbedding => true,
                QuantizableKind.MatMulWeight or QuantizableKind.Gemm => OnnxModelAccess.ElementCount(initializers[n.WeightName!]) < MinWeightElements,
                QuantizableKind.MatMulActivations => n.Node.Input.Any(IsRowPerSample),
                _ => false,
            };
            if (!small || (n.Kind is QuantizableKind.MatMulWeight or QuantizableKind.Gemm && ReadsQuantizedOutput(n.Node.Input[n.ActivationInputs[0]]))) continue;
            keep.Add(n.Name);
            keptNodes.Add(n.Node);
        }
        return keep;

        // An Unsqueeze at axis -2 (as an attribute before opset 13, an input after): one row per sample.
        bool IsRowPerSample(string tensor) =>
            producers.TryGetValue(tensor, out var p) && p.OpType == "Unsqueeze" && p.Domain is "" or "ai.onnx"
            && (p.Attribute.FirstOrDefault(a => a.Name == "axes")?.Ints.ToArray()
                ?? (p.Input.Count > 1 && initializers.TryGetValue(p.Input[1], out var axes) ? OnnxModelAccess.ReadInt64s(axes) : null)) is [-2];

        // Whether the activation comes (through a Relu or data movement) from a Conv/Gemm/activation MatMul that stays int8:
        // its output is then quantized only while this node is, and with a float reader ONNX Runtime fuses it with the
        // Relu in float (FusedGemm) and dequantizes its weight on every run (an MLP's 256 x 256 Gemm measured 0.5x).
        bool ReadsQuantizedOutput(string tensor)
        {
            while (producers.TryGetValue(tensor, out var p))
            {
                if (quantizable.TryGetValue(p, out var q))
                    return q.Kind is QuantizableKind.Conv or QuantizableKind.Gemm or QuantizableKind.MatMulActivations
                           && !keptNodes.Contains(p) && !alreadyFloat.Contains(p.Name);
                if (p.Input.Count == 0 || !(p.OpType == "Relu" || StaticQdqInt8Quantizer.DataMovement.Contains(p.OpType))) return false;
                tensor = p.Input[0];
            }
            return false;
        }
    }
}
