using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// The tanh approximation of GELU, 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), becomes ONNX Runtime's
/// FastGelu. The cube may be Pow(x, 3) or x * x * x; the outer product with x and 0.5 is matched as for exact GELU.
/// </summary>
public sealed class FastGeluFusion() : ContribOperatorFusion("FastGelu")
{
    const float SqrtTwoOverPi = 0.7978845608f;
    const float CubeCoefficient = 0.044715f;

    protected override int Rewrite(GraphPatterns g)
    {
        var matches = new List<(string X, string Output, List<NodeProto> Nodes)>();
        foreach (var tanh in g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "Tanh")).ToList())
        {
            var scale = g.Producer(tanh.Input[0]);
            if (!GraphPatterns.Is(scale, "Mul") || !g.SplitConstant(scale!, out var inner, out var c) || !g.IsScalar(c, SqrtTwoOverPi)
                || !g.IsPrivateTo(scale!.Output[0], tanh)) continue;
            var sum = g.Producer(inner);
            if (!GraphPatterns.Is(sum, "Add") || !g.IsPrivateTo(inner, scale)) continue;
            if (MatchCubeTerm(g, sum!, out var x, out var cubeNodes) is false) continue;
            var onePlus = g.OnlyConsumer(tanh.Output[0], "Add");
            if (onePlus is null || !g.SplitConstant(onePlus, out _, out var one) || !g.IsScalar(one, 1)) continue;
            if (GeluFusion.TailMatch(g, x, onePlus.Output[0]) is not { } tail) continue;
            matches.Add((x, tail.Output, [.. cubeNodes, sum!, scale, tanh, onePlus, .. tail.Nodes]));
        }
        foreach (var m in matches)
        {
            g.Fuse("FastGelu", [m.X], [m.Output], m.Nodes, outputPrefix: "FastGelu");
        }
        return g.CommitFused(matches.Count);
    }

    /// <summary>sum = x + 0.044715 * x^3 (either operand order); returns x and the nodes of the cubic term.</summary>
    static bool MatchCubeTerm(GraphPatterns g, NodeProto sum, out string x, out List<NodeProto> nodes)
    {
        nodes = [];
        x = "";
        foreach (var (candidate, term) in new[] { (sum.Input[0], sum.Input[1]), (sum.Input[1], sum.Input[0]) })
        {
            var mul = g.Producer(term);
            if (!GraphPatterns.Is(mul, "Mul") || !g.SplitConstant(mul!, out var cube, out var k) || !g.IsScalar(k, CubeCoefficient)) continue;
            var cubeNode = g.Producer(cube);
            if (GraphPatterns.Is(cubeNode, "Pow") && cubeNode!.Input[0] == candidate && g.IsScalar(cubeNode.Input[1], 3))
            {
                nodes = [cubeNode, mul!];
            }
            else if (GraphPatterns.Is(cubeNode, "Mul") && GraphPatterns.Other(cubeNode!, candidate) is { } square
                && g.Producer(square) is { } sq && GraphPatterns.Is(sq, "Mul") && sq.Input[0] == candidate && sq.Input[1] == candidate)
            {
                nodes = [sq, cubeNode!, mul!];
            }
            else continue;
            var matched = nodes.ToArray();
            if (!matched.Take(matched.Length - 1).All(n => g.IsPrivateTo(n.Output[0], matched)) || !g.IsPrivateTo(term, sum)) continue;
            x = candidate;
            return true;
        }
        return false;
    }
}
