using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// Masked mean pooling, as PyTorch exports <c>(h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=c)</c>
/// (ReduceSum(Mul(h, Unsqueeze(m, -1)), [1]) / count, the count a ReduceSum of m over axis 1 kept [B,1], optionally
/// clamped by Clip or Max), becomes one batched product: Flatten(MatMul(Unsqueeze(m / count, -2), h)). The weights
/// m / count are [B,L], computed on the mask rather than on the pooled [B,d]; the Mul and the ReduceSum over [B,L,d]
/// become one MatMul. Same node count, cheaper kernels: 1.3-1.4 us off 26 at batch 1 on the sample's student
/// (benchmarks/RESULTS.md "Fewer and cheaper nodes for the sample's student"). When the mask is 0/1 and the count
/// clamped, m / count is LpNormalization(m, p 1) (<see cref="IsNormalizedMask"/>). Runs after the sequence trim, whose
/// proof reads the ReduceSum form.
/// </summary>
public sealed class MeanPoolingMatMul : IGraphFusion
{
    public string Name => "MeanPoolingMatMul";
    public string FusedOperator => "MatMul";

    sealed record Match(NodeProto Div, NodeProto Sum, NodeProto Mul, NodeProto Unsqueeze, string Hidden, string Mask, string Count);

    public int Apply(OnnxModel model)
    {
        if ((model.GetOpsetVersion("") ?? 0) < 13) return 0;
        var g = new GraphPatterns(model);
        var matches = new List<Match>();
        foreach (var div in g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "Div")).ToList())
            if (Find(g, div) is { } match) matches.Add(match);
        if (matches.Count == 0) return 0;
        // The product is a pooling only for h [B,L,d] and m [B,L] over the same positions: shapes from one run, since
        // the graph's own shape information is often missing after the trim (a wrong match would fail the whole fusion).
        var shapes = Evaluation.TensorShapeProbe.TryRun(model.Proto);
        if (shapes is null) return 0;
        matches.RemoveAll(m => !(shapes.TryGetValue(m.Hidden, out var h) && shapes.TryGetValue(m.Mask, out var k)
                                 && h.Length == 3 && k.Length == 2 && h[0] == k[0] && h[1] == k[1]));
        foreach (var m in matches)
        {
            // The count's ReduceSum and clamp go at Commit when nothing else reads them.
            var weights = IsNormalizedMask(g, m)
                ? g.AddNodeOutput("LpNormalization", [m.Mask], Name, NodeAttributes.Int("axis", -1), NodeAttributes.Int("p", 1))
                : g.AddNodeOutput("Div", [m.Mask, m.Count], Name);
            // [B,1,L]: axis -2 marks it as one row per sample for the int8 rule (Int8KernelSizeRule).
            var rows = g.AddNodeOutput("Unsqueeze", [weights, g.AddInitializer("MeanPoolingMatMul_axes", new long[] { -2 }, 1)], Name);
            var pooled = g.Graph.AddNode("MatMul", [rows, m.Hidden], name: "MeanPoolingMatMul", outputPrefix: "MeanPoolingMatMul_MatMul").Output[0];
            g.Graph.AddNode("Flatten", [pooled], [m.Div.Output[0]], attributes: [NodeAttributes.Int("axis", 1)], outputPrefix: "MeanPoolingMatMul_Flatten");
            g.Remove(g.IsPrivateTo(m.Unsqueeze.Output[0], m.Mul) ? [m.Div, m.Sum, m.Mul, m.Unsqueeze] : [m.Div, m.Sum, m.Mul]);
        }
        if (matches.Count > 0) g.Commit();
        return matches.Count;
    }

    static Match? Find(GraphPatterns g, NodeProto div)
    {
        var sum = g.Producer(div.Input[0]);
        if (!GraphPatterns.Is(sum, "ReduceSum") || sum!.GetInt("keepdims", 1) != 0 || g.ReduceAxes(sum) is not [1]
            || !g.IsPrivateTo(sum.Output[0], div)) return null;
        var mul = g.Producer(sum.Input[0]);
        if (!GraphPatterns.Is(mul, "Mul") || mul!.Input.Count != 2 || !g.IsPrivateTo(mul.Output[0], sum)) return null;
        foreach (var (unsqueezed, hidden) in new[] { (mul.Input[1], mul.Input[0]), (mul.Input[0], mul.Input[1]) })
        {
            var unsqueeze = g.Producer(unsqueezed);
            if (!GraphPatterns.Is(unsqueeze, "Unsqueeze") || unsqueeze!.Input.Count != 2 || g.Int64s(unsqueeze.Input[1]) is not ([-1] or [2])) continue;
            var mask = unsqueeze.Input[0];
            // The count must be per row ([B,1]) and of the same mask, so m / count divides each row by its own count.
            if (CountOf(g, div.Input[1], mask)) return new Match(div, sum, mul, unsqueeze, hidden, mask, div.Input[1]);
        }
        return null;
    }

    /// <summary>
    /// Whether m / count is exactly LpNormalization(m, p 1) on the last axis. It is when m is a Cast of a bool tensor to
    /// float (every element 0 or 1, so the L1 norm is the count, summed exactly) and the count is clamped below by a
    /// constant c in (0, 1]: a row with ones has a count of at least 1, which the clamp leaves alone, and a row of zeros
    /// gives 0 / c = 0, as ONNX Runtime's LpNormalization gives 0 for a zero norm. One node instead of ReduceSum, Clip
    /// and Div when nothing else reads the count (benchmarks/RESULTS.md "Fewer and cheaper nodes for the sample's
    /// student").
    /// </summary>
    static bool IsNormalizedMask(GraphPatterns g, Match m)
    {
        var cast = g.Producer(m.Mask);
        if (!GraphPatterns.Is(cast, "Cast") || cast!.GetInt("to", 0) != (long)TensorProto.Types.DataType.Float || !g.IsBoolean(cast.Input[0])) return false;
        // CountOf proved the count a clamp of ReduceSum(m, [1], keepdims 1) or the ReduceSum itself (no clamp: 0 / 0).
        return Clamped(g, g.Producer(m.Count)) is ({ } counted, > 0f and <= 1f) && GraphPatterns.Is(g.Producer(counted), "ReduceSum");
    }

    /// <summary>What a Clip with no upper bound, or a Max with a constant, clamps and its lower bound; nulls for anything else.</summary>
    static (string? Value, float? Minimum) Clamped(GraphPatterns g, NodeProto? node)
    {
        if (GraphPatterns.Is(node, "Clip"))
        {
            if (node!.HasAttribute("min") || node.HasAttribute("max")) // before opset 11
                return node.HasAttribute("max") ? default : (node.Input[0], node.GetFloat("min", float.NegativeInfinity));
            var hasMax = node.Input.Count > 2 && node.Input[2].Length > 0;
            return !hasMax && node.Input.Count > 1 && g.TryScalar(node.Input[1], out var min) ? (node.Input[0], min) : default;
        }
        if (GraphPatterns.Is(node, "Max") && node!.Input.Count == 2)
            foreach (var (value, bound) in new[] { (node.Input[0], node.Input[1]), (node.Input[1], node.Input[0]) })
                if (!g.IsConstant(value) && g.TryScalar(bound, out var c)) return (value, c);
        return default;
    }

    /// <summary>
    /// True when <paramref name="count"/> is ReduceSum(mask, [1], keepdims 1), optionally through Clip or Max with
    /// one-element constants of rank 2 at most (a [1,1,1] bound would make the [B,1] count [1,B,1], and the mean's shape
    /// with it, which the rewrite does not keep).
    /// </summary>
    static bool CountOf(GraphPatterns g, string count, string mask)
    {
        var node = g.Producer(count);
        if ((GraphPatterns.Is(node, "Clip") || GraphPatterns.Is(node, "Max"))
            && node!.Input.Skip(1).All(i => i.Length == 0 || g.TryScalar(i, out _) && g.Constant(i)!.Dims.Count <= 2))
            node = g.Producer(node.Input[0]);
        return GraphPatterns.Is(node, "ReduceSum") && node!.Input[0] == mask && node.GetInt("keepdims", 1) == 1 && g.ReduceAxes(node) is [1];
    }
}
