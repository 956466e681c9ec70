using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// A bias Add (1-D constant over the last axis) feeding Gelu becomes ONNX Runtime's BiasGelu, and feeding FastGelu
/// moves into FastGelu's bias input: one pass over the activations instead of two. Runs after the GELU fusions.
/// </summary>
public sealed class BiasGeluFusion() : ContribOperatorFusion("BiasGelu")
{
    protected override int Rewrite(GraphPatterns g)
    {
        var matches = new List<(NodeProto Add, NodeProto Gelu, string Activation, string Bias)>();
        foreach (var gelu in g.Graph.Nodes.Where(n => n.Domain == GraphPatterns.MicrosoftDomain && n.OpType is "Gelu" or "FastGelu" && n.Input.Count == 1).ToList())
        {
            var add = g.Producer(gelu.Input[0]);
            if (!GraphPatterns.Is(add, "Add") || !g.SplitConstant(add!, out var activation, out var bias) || g.Vector(bias) is null
                || !g.IsPrivateTo(add!.Output[0], gelu)) continue;
            matches.Add((add, gelu, activation, bias));
        }
        foreach (var (add, gelu, activation, bias) in matches)
        {
            var op = gelu.OpType == "Gelu" ? "BiasGelu" : "FastGelu";
            g.Graph.AddNode(op, [activation, bias], [gelu.Output[0]], domain: GraphPatterns.MicrosoftDomain, outputPrefix: op);
            g.Remove([add, gelu]);
        }
        if (matches.Count > 0) g.Commit();
        return matches.Count;
    }
}
