using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// Multi-head self-attention written out by an exporter becomes ONNX Runtime's Attention (one packed QKV GEMM and one
/// kernel for scores, mask, softmax and context):
/// <code>
///   q = Transpose(Reshape(X·Wq + bq, [B,S,N,h]), 0,2,1,3)    k = Transpose(Reshape(X·Wk + bk), 0,2,3,1)    v like q
///   p = Softmax(q·k * scale [+ (1 - keep) * filter])         out = Reshape(Transpose(p·v, 0,2,1,3), [B,S,N*h])
/// </code>
/// Works wherever the block sits (pre-LN or post-LN: X is whatever feeds the three projections). The additive mask
/// must come from a [B,S] keep tensor (attention_mask, or ids compared with the pad id) through Cast, 1 - keep, a
/// negative filter value and Unsqueezes to [B,1,1,S]; it becomes Attention's raw 2-D mask with that filter value.
/// Any other mask (a constant causal mask, a 3-D mask) leaves the block unfused. The output projection stays a MatMul.
/// </summary>
public sealed class AttentionFusion() : ContribOperatorFusion("Attention")
{
    protected override int Rewrite(GraphPatterns g)
    {
        var matches = g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "Softmax")).Select(n => Find(g, n)).OfType<Match>().ToList();
        var maskIndices = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in matches)
        {
            var q = g.Floats(m.Q.Weight)!;
            var k = g.Floats(m.K.Weight)!;
            var v = g.Floats(m.V.Weight)!;
            var rows = m.InputWidth;
            var h = m.Hidden;
            var packed = new float[rows * 3 * h];
            for (var r = 0; r < rows; r++)
            {
                Array.Copy(q, r * h, packed, r * 3 * h, h);
                Array.Copy(k, r * h, packed, r * 3 * h + h, h);
                Array.Copy(v, r * h, packed, r * 3 * h + 2 * h, h);
            }
            var bias = g.Floats(m.Q.Bias)!.Concat(g.Floats(m.K.Bias)!).Concat(g.Floats(m.V.Bias)!).ToArray();
            var weightName = g.AddInitializer("Attention_qkv_weight", packed, rows, 3 * h);
            var biasName = g.AddInitializer("Attention_qkv_bias", bias, 3 * h);
            var inputs = new List<string> { m.Q.X, weightName, biasName };
            var attributes = new List<AttributeProto> { NodeAttributes.Int("num_heads", m.Heads), NodeAttributes.Float("scale", m.Scale) };
            if (m.Mask is { } mask)
            {
                if (!maskIndices.TryGetValue(mask.Keep, out var index))
                {
                    index = g.Graph.AddNode("Cast", [mask.Keep], attributes: [NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Int32)], outputPrefix: "Attention_mask_index").Output[0];
                    maskIndices[mask.Keep] = index;
                }
                inputs.Add(index);
                attributes.Add(NodeAttributes.Float("mask_filter_value", mask.FilterValue));
            }
            g.Fuse("Attention", inputs, [m.Output], m.Nodes, outputPrefix: "Attention", attributes);
        }
        return g.CommitFused(matches.Count);
    }

    sealed record Projection(string X, string Weight, string Bias, long Heads, long HeadSize, NodeProto[] Nodes);
    sealed record Mask(string Keep, float FilterValue);
    sealed record Match(Projection Q, Projection K, Projection V, long Heads, int InputWidth, int Hidden, float Scale, Mask? Mask, string Output, NodeProto[] Nodes);

    static readonly long[] HeadsFirst = [0, 2, 1, 3];
    static readonly long[] KeyTransposed = [0, 2, 3, 1];

    static Match? Find(GraphPatterns g, NodeProto softmax)
    {
        var axis = softmax.GetInt("axis", -1);
        if (axis is not (-1 or 3)) return null;
        var probs = softmax.Output[0];
        var context = g.OnlyConsumer(probs, "MatMul");
        if (context is null || context.Input[0] != probs) return null;

        // Scores: [Add(mask)] <- [Mul|Div scale] <- MatMul(q, kT).
        var nodes = new List<NodeProto> { softmax, context };
        var scores = softmax.Input[0];
        Mask? mask = null;
        var producer = g.Producer(scores);
        if (GraphPatterns.Is(producer, "Add") && g.IsPrivateTo(scores, softmax))
        {
            foreach (var (scaled, maskValue) in new[] { (producer!.Input[0], producer.Input[1]), (producer.Input[1], producer.Input[0]) })
            {
                if (MatchMask(g, maskValue) is { } found && ScoresProducer(g, scaled) is not null)
                {
                    mask = found;
                    nodes.Add(producer);
                    scores = scaled;
                    break;
                }
            }
            if (mask is null) return null;
        }
        var scaling = ScoresProducer(g, scores);
        if (scaling is null) return null;
        var (qk, scale, scaleNode) = scaling.Value;
        if (scaleNode is not null) nodes.Add(scaleNode);
        nodes.Add(qk);

        var q = MatchProjection(g, qk.Input[0], HeadsFirst, qk);
        var k = MatchProjection(g, qk.Input[1], KeyTransposed, qk);
        var v = MatchProjection(g, context.Input[1], HeadsFirst, context);
        if (q is null || k is null || v is null || q.X != k.X || q.X != v.X) return null;
        var qw = g.Constant(q.Weight)!;
        if (qw.Dims.Count != 2 || !new[] { k, v }.All(p => g.Constant(p.Weight)!.Dims.SequenceEqual(qw.Dims))) return null;
        var inputWidth = (int)qw.Dims[0];
        var hidden = (int)qw.Dims[1];
        if (g.Floats(q.Weight) is null || g.Floats(k.Weight) is null || g.Floats(v.Weight) is null) return null;
        if (new[] { q, k, v }.Any(p => g.Vector(p.Bias)?.Length != hidden)) return null;
        var heads = q.Heads > 0 ? q.Heads : q.HeadSize > 0 && hidden % q.HeadSize == 0 ? hidden / q.HeadSize : 0;
        if (heads <= 0 || hidden % heads != 0 || k.Heads > 0 && k.Heads != heads || v.Heads > 0 && v.Heads != heads) return null;
        if (q.HeadSize > 0 && q.HeadSize * heads != hidden) return null;

        // Context back to [B, S, hidden].
        var back = g.OnlyConsumer(context.Output[0], "Transpose");
        if (back is null || back.GetInts("perm") is not { } perm || !perm.SequenceEqual(HeadsFirst)) return null;
        var merge = g.OnlyConsumer(back.Output[0], "Reshape");
        if (merge is null || ShapeLength(g, merge.Input[1]) != 3) return null;
        nodes.AddRange([back, merge]);
        nodes.AddRange(q.Nodes.Concat(k.Nodes).Concat(v.Nodes));
        return new Match(q, k, v, heads, inputWidth, hidden, scale, mask, merge.Output[0], nodes.ToArray());
    }

    /// <summary>value = MatMul(q, kT) optionally scaled by a constant (Mul c or Div d): the MatMul, the scale and the scaling node.</summary>
    static (NodeProto MatMul, float Scale, NodeProto? ScaleNode)? ScoresProducer(GraphPatterns g, string value)
    {
        var node = g.Producer(value);
        if (GraphPatterns.Is(node, "MatMul")) return (node!, 1f, null);
        if ((GraphPatterns.Is(node, "Mul") || GraphPatterns.Is(node, "Div")) && g.SplitConstant(node!, out var product, out var c) && g.TryScalar(c, out var s)
            && (node!.OpType == "Mul" || node.Input[0] == product) && s != 0)
        {
            var matmul = g.Producer(product);
            if (GraphPatterns.Is(matmul, "MatMul") && g.IsPrivateTo(product, node))
                return (matmul!, node.OpType == "Mul" ? s : 1 / s, node);
        }
        return null;
    }

    /// <summary>Transpose(perm) &lt;- Reshape(·, [B,S,N,h]) &lt;- Add(·, bias) &lt;- MatMul(X, W), each read only by the next.</summary>
    static Projection? MatchProjection(GraphPatterns g, string value, long[] perm, NodeProto reader)
    {
        var transpose = g.Producer(value);
        if (!GraphPatterns.Is(transpose, "Transpose") || transpose!.GetInts("perm") is not { } p || !p.SequenceEqual(perm) || !g.IsPrivateTo(value, reader)) return null;
        var reshape = g.Producer(transpose.Input[0]);
        if (!GraphPatterns.Is(reshape, "Reshape") || !g.IsPrivateTo(transpose.Input[0], transpose) || reshape!.GetInt("allowzero", 0) != 0) return null;
        if (HeadDims(g, reshape.Input[1]) is not { } dims) return null;
        var add = g.Producer(reshape.Input[0]);
        if (!GraphPatterns.Is(add, "Add") || !g.IsPrivateTo(reshape.Input[0], reshape) || !g.SplitConstant(add!, out var projected, out var bias)) return null;
        var matmul = g.Producer(projected);
        if (!GraphPatterns.Is(matmul, "MatMul") || !g.IsPrivateTo(projected, add!) || !g.IsConstant(matmul!.Input[1]) || g.IsConstant(matmul.Input[0])) return null;
        return new Projection(matmul.Input[0], matmul.Input[1], bias, dims.Heads, dims.HeadSize, [transpose, reshape, add!, matmul]);
    }

    /// <summary>
    /// Heads and head size from a [B,S,N,h] shape: a constant, or a Concat whose last two parts are constants
    /// (exporters build B and S from Shape/Gather). 0 where a part is not known (e.g. -1).
    /// </summary>
    static (long Heads, long HeadSize)? HeadDims(GraphPatterns g, string shape)
    {
        if (g.Int64s(shape) is { } constant)
            return constant.Length == 4 ? (Math.Max(constant[2], 0), Math.Max(constant[3], 0)) : null;
        var concat = g.Producer(shape);
        if (!GraphPatterns.Is(concat, "Concat") || concat!.Input.Count != 4) return null;
        var n = g.Int64s(concat.Input[2]);
        var h = g.Int64s(concat.Input[3]);
        if (n is not { Length: 1 } || h is not { Length: 1 }) return null;
        return (Math.Max(n[0], 0), Math.Max(h[0], 0));
    }

    /// <summary>The number of dimensions a Reshape shape input names (constant or Concat of one-element parts); -1 when unknown.</summary>
    static int ShapeLength(GraphPatterns g, string shape)
    {
        if (g.Int64s(shape) is { } constant) return constant.Length;
        var concat = g.Producer(shape);
        return GraphPatterns.Is(concat, "Concat") ? concat!.Input.Count : -1;
    }

    /// <summary>
    /// (1 - Cast(keep)) * filter, unsqueezed from [B,S] to [B,1,1,S], in any order of the elementwise steps; the keep
    /// tensor is the first value before the chain (a graph input such as attention_mask, or ids != pad).
    /// </summary>
    static Mask? MatchMask(GraphPatterns g, string value)
    {
        var current = value;
        var unsqueezes = new List<long[]>();
        float? filter = null;
        bool inverted = false, cast = false;
        for (var step = 0; step < 8; step++)
        {
            var node = g.Producer(current);
            if (GraphPatterns.Is(node, "Unsqueeze"))
            {
                var axes = node!.GetInts("axes") ?? (node.Input.Count > 1 ? g.Int64s(node.Input[1]) : null);
                if (axes is null) return null;
                unsqueezes.Insert(0, axes);
                current = node.Input[0];
            }
            else if (GraphPatterns.Is(node, "Mul") && filter is null && g.SplitConstant(node!, out var variable, out var c) && g.TryScalar(c, out var f) && f < 0)
            {
                filter = f;
                current = variable;
            }
            else if (GraphPatterns.Is(node, "Sub") && !inverted && g.IsScalar(node!.Input[0], 1) && !g.IsConstant(node.Input[1]))
            {
                inverted = true;
                current = node.Input[1];
            }
            else if (GraphPatterns.Is(node, "Cast") && !cast && node!.GetInt("to", 0) == (long)TensorProto.Types.DataType.Float)
            {
                cast = true;
                current = node.Input[0];
            }
            else break;
        }
        if (filter is null || !inverted || !cast) return null;
        // Forward through the Unsqueezes: [B,S] must end as [B,1,1,S].
        var dims = new List<string> { "B", "S" };
        foreach (var axes in unsqueezes)
        {
            var rank = dims.Count + axes.Length;
            foreach (var a in axes.Select(a => a < 0 ? a + rank : a).Order())
            {
                if (a < 0 || a > dims.Count) return null;
                dims.Insert((int)a, "1");
            }
        }
        return dims.SequenceEqual(["B", "1", "1", "S"]) ? new Mask(current, filter.Value) : null;
    }
}
