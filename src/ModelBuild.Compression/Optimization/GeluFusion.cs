using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// Exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)), becomes ONNX Runtime's Gelu. Accepts the arrangements exporters
/// write: x/sqrt2 or x*(1/sqrt2) inside the erf, and the 0.5 applied to x, to (1 + erf) or to the product.
/// </summary>
public sealed class GeluFusion() : ContribOperatorFusion("Gelu")
{
    protected override int Rewrite(GraphPatterns g)
    {
        var matches = new List<(string X, string Output, List<NodeProto> Nodes)>();
        foreach (var erf in g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "Erf")).ToList())
        {
            var scale = g.Producer(erf.Input[0]);
            if (scale is null || !g.SplitConstant(scale, out var x, out var c) || !g.IsPrivateTo(scale.Output[0], erf)) continue;
            var scaled = GraphPatterns.Is(scale, "Div") ? scale.Input[0] == x && g.IsScalar(c, MathF.Sqrt(2))
                : GraphPatterns.Is(scale, "Mul") && g.IsScalar(c, 1 / MathF.Sqrt(2));
            if (!scaled) continue;
            var onePlus = g.OnlyConsumer(erf.Output[0], "Add");
            if (onePlus is null || !g.SplitConstant(onePlus, out _, out var one) || !g.IsScalar(one, 1)) continue;
            if (TailMatch(g, x, onePlus.Output[0]) is not { } tail) continue;
            matches.Add((x, tail.Output, [scale, erf, onePlus, .. tail.Nodes]));
        }
        foreach (var m in matches)
        {
            g.Fuse("Gelu", [m.X], [m.Output], m.Nodes, outputPrefix: "Gelu");
        }
        return g.CommitFused(matches.Count);
    }

    /// <summary>
    /// The last step of GELU and tanh-GELU alike, given x and (1 + f(x)): the product with x and with 0.5 in any of
    /// three arrangements. Returns the output value and the nodes of this tail.
    /// </summary>
    internal static (string Output, NodeProto[] Nodes)? TailMatch(GraphPatterns g, string x, string onePlus)
    {
        var users = g.Consumers(onePlus);
        if (users.Count != 1 || !GraphPatterns.Is(users[0], "Mul") || g.Graph.IsGraphOutput(onePlus)) return null;
        var mul = users[0];
        var other = GraphPatterns.Other(mul, onePlus);
        if (other is null) return null;
        if (other == x)
        {
            // (x * (1 + f)) * 0.5
            var half = g.OnlyConsumer(mul.Output[0], "Mul");
            if (half is null || !g.SplitConstant(half, out _, out var h) || !g.IsScalar(h, 0.5f)) return null;
            return (half.Output[0], [mul, half]);
        }
        var otherNode = g.Producer(other);
        if (GraphPatterns.Is(otherNode, "Mul") && g.SplitConstant(otherNode!, out var v, out var h2) && g.IsScalar(h2, 0.5f) && g.IsPrivateTo(other, mul))
        {
            // (x * 0.5) * (1 + f)
            if (v == x) return (mul.Output[0], [otherNode!, mul]);
        }
        // x * ((1 + f) * 0.5): the 0.5 multiplies (1 + f) before x does.
        if (g.SplitConstant(mul, out var onePlusVar, out var h3) && onePlusVar == onePlus && g.IsScalar(h3, 0.5f))
        {
            var outer = g.OnlyConsumer(mul.Output[0], "Mul");
            if (outer is not null && GraphPatterns.Other(outer, mul.Output[0]) == x) return (outer.Output[0], [mul, outer]);
        }
        return null;
    }
}
