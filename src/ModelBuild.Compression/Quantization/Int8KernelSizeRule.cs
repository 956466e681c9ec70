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
/// front and the integer kernel's packing and requantization cost more than the multiply-adds they save.</item>
/// </list>
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

    /// <summary>Names of the quantizable nodes of <paramref name="graph"/> the rule keeps float, in graph order.</summary>
    public static List<string> KeepFloat(GraphProto graph)
    {
        var initializers = OnnxModelAccess.Initializers(graph);
        return QuantizableNode.Find(graph).Where(n => n.Kind switch
        {
            QuantizableKind.GatherEmbedding => true,
            QuantizableKind.MatMulWeight or QuantizableKind.Gemm => OnnxModelAccess.ElementCount(initializers[n.WeightName!]) < MinWeightElements,
            _ => false,
        }).Select(n => n.Name).ToList();
    }
}
