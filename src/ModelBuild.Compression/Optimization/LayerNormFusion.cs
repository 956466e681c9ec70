using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// LayerNorm written out by an exporter, (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * gamma + beta over the
/// last axis, becomes one LayerNormalization node. The mean and variance must reduce the last axis only (keepdims) and
/// eps must sit inside the square root: any other arrangement computes something else and is left alone. ONNX Runtime
/// runs LayerNormalization at every opset (its contrib registration covers the opsets before 17).
/// </summary>
public sealed class LayerNormFusion : IGraphFusion
{
    public string Name => "LayerNormalization";
    public string FusedOperator => "LayerNormalization";

    public int Apply(OnnxModel model)
    {
        var g = new GraphPatterns(model);
        var matches = g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "ReduceMean")).Select(n => Find(g, n)).OfType<Match>().ToList();
        foreach (var m in matches)
        {
            var gamma = m.Gamma ?? g.AddInitializer("LayerNorm_gamma", Enumerable.Repeat(1f, m.Width).ToArray(), m.Width);
            var inputs = m.Beta is null ? new[] { m.X, gamma } : new[] { m.X, gamma, m.Beta };
            g.Graph.AddNode("LayerNormalization", inputs, [m.Output], attributes: [NodeAttributes.Int("axis", -1), NodeAttributes.Float("epsilon", m.Epsilon)], outputPrefix: "LayerNorm");
            g.Remove(m.Nodes);
        }
        if (matches.Count > 0) g.Commit();
        return matches.Count;
    }

    sealed record Match(string X, string? Gamma, string? Beta, float Epsilon, int Width, string Output, NodeProto[] Nodes);

    static bool LastAxisKeepDims(GraphPatterns g, NodeProto reduce) =>
        g.ReduceAxes(reduce) is [-1] && reduce.GetInt("keepdims", 1) == 1;

    static Match? Find(GraphPatterns g, NodeProto mean)
    {
        if (!LastAxisKeepDims(g, mean)) return null;
        var x = mean.Input[0];
        // x - mean feeds both the variance (Pow 2) and the normalization (Div).
        var sub = g.Consumers(mean.Output[0]).SingleOrDefault();
        if (!GraphPatterns.Is(sub, "Sub") || sub!.Input[0] != x || sub.Input[1] != mean.Output[0]) return null;
        var centered = sub.Output[0];
        var users = g.Consumers(centered);
        if (users.Count != 2 || g.Graph.IsGraphOutput(centered)) return null;
        var pow = users.FirstOrDefault(u => GraphPatterns.Is(u, "Pow") && u.Input[0] == centered && g.IsScalar(u.Input[1], 2f));
        var div = users.FirstOrDefault(u => GraphPatterns.Is(u, "Div") && u.Input[0] == centered);
        if (pow is null || div is null) return null;
        var variance = g.OnlyConsumer(pow.Output[0], "ReduceMean");
        if (variance is null || !LastAxisKeepDims(g, variance)) return null;
        var addEps = g.OnlyConsumer(variance.Output[0], "Add");
        if (addEps is null || !g.SplitConstant(addEps, out _, out var epsName) || !g.TryScalar(epsName, out var eps) || eps < 0) return null;
        var sqrt = g.OnlyConsumer(addEps.Output[0], "Sqrt");
        if (sqrt is null || div.Input[1] != sqrt.Output[0] || !g.IsPrivateTo(sqrt.Output[0], div)) return null;
        var nodes = new List<NodeProto> { mean, sub, pow, variance, addEps, sqrt, div };
        var output = div.Output[0];
        string? gamma = null, beta = null;
        var width = 0;
        // Optional affine part: * gamma then + beta (1-D constants over the last axis).
        if (g.OnlyConsumer(output, "Mul") is { } mul && g.SplitConstant(mul, out _, out var gName) && g.Vector(gName) is { } gv)
        {
            gamma = gName;
            width = gv.Length;
            nodes.Add(mul);
            output = mul.Output[0];
            if (g.OnlyConsumer(output, "Add") is { } add && g.SplitConstant(add, out _, out var bName) && g.Vector(bName) is { } bv && bv.Length == width)
            {
                beta = bName;
                nodes.Add(add);
                output = add.Output[0];
            }
        }
        if (gamma is null) return null; // without a scale the width is unknown here; ONNX Runtime fuses that form itself
        return new Match(x, gamma, beta, eps, width, output, nodes.ToArray());
    }
}
