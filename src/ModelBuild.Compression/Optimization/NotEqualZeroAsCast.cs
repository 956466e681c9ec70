using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// <c>x != 0</c>, as PyTorch exports it (Not(Equal(x, 0)), e.g. the padding mask of token ids), becomes one Cast of x
/// to bool, which is true exactly for the non-zero elements (NaN included, as Equal(NaN, 0) is false; -0 is zero to
/// both). One node fewer, about 0.5 us at batch 1 on the sample's student (benchmarks/RESULTS.md "Fewer and cheaper
/// nodes for the sample's student"). Last in the registry: the sequence trim and mean pooling read the keep mask as
/// the export wrote it.
/// </summary>
public sealed class NotEqualZeroAsCast : IGraphFusion
{
    public string Name => "NotEqualZeroAsCast";
    public string FusedOperator => "Cast";

    public int Apply(OnnxModel model)
    {
        var g = new GraphPatterns(model);
        var matches = new List<(NodeProto Equal, NodeProto Not, string Value)>();
        foreach (var not in g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "Not")))
        {
            var equal = g.Producer(not.Input[0]);
            if (!GraphPatterns.Is(equal, "Equal") || !g.IsPrivateTo(equal!.Output[0], not) || !g.SplitConstant(equal, out var value, out var zero)) continue;
            if (IsScalarZero(g, zero)) matches.Add((equal, not, value));
        }
        foreach (var (equal, not, value) in matches)
        {
            g.Graph.AddNode("Cast", [value], [not.Output[0]], attributes: [NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Bool)], outputPrefix: Name);
            g.Remove([equal, not]);
        }
        if (matches.Count > 0) g.Commit();
        return matches.Count;
    }

    /// <summary>
    /// A rank-0 constant equal to zero in its own element type (as a float, a double 1e-300 would be 0 too). Rank 0: a
    /// [1] zero would broadcast a scalar x to [1], which the Cast would not.
    /// </summary>
    static bool IsScalarZero(GraphPatterns g, string value)
    {
        if (g.Constant(value) is not { Dims.Count: 0 } t) return false;
        try { return ModelBuild.Onnx.Tensors.TensorData.ToDoubleArray(t, g.Model.ExternalData)[0] == 0.0; }
        catch (ModelBuild.Onnx.Diagnostics.ModelBuildException) { return false; } // strings and other non-numbers
    }
}
