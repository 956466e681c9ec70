using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// A one-head fused Attention's output projection (MatMul by a constant W_o [v,d], then an optional bias Add) moves
/// into its value projection: softmax rows sum to 1, so P(X W_v + b_v) W_o + b_o = P X (W_v W_o) + (b_v W_o + b_o).
/// The Attention then gives value and query/key different widths (qkv_hidden_sizes), and the MatMul and the Add go:
/// two nodes fewer per layer. On a pruned student, where ONNX Runtime's per-node cost is most of the time, the fold
/// alone took 1.5-1.9 us off 26 at batch 1 (benchmarks/RESULTS.md "Fewer and cheaper nodes for the sample's student").
/// <para>
/// Only with one head: with several, the projection mixes the heads after their separate products and cannot move.
/// Only when the folded value projection costs no more arithmetic than the two it replaces (d·d_out at most
/// d·v + v·d_out), so a wide model with a narrow head keeps its MatMul, and only when d_out is at least q's width: the
/// quantizers give QAttention, which has no qkv_hidden_sizes, equal widths by zero columns (Quantization/AttentionWidths).
/// </para>
/// </summary>
public sealed class AttentionOutputFold : IGraphFusion
{
    /// <summary>Attributes whose meaning survives the fold; any other (rotary, past buffers) leaves the node alone.</summary>
    static readonly HashSet<string> Understood = ["num_heads", "scale", "mask_filter_value", "unidirectional", "qkv_hidden_sizes"];

    public string Name => "AttentionOutputFold";
    public string FusedOperator => GraphPatterns.MicrosoftDomain + ".Attention";

    public int Apply(OnnxModel model)
    {
        var g = new GraphPatterns(model);
        var matches = new List<Match>();
        foreach (var attention in g.Graph.Nodes.Where(n => n.OpType == "Attention" && n.Domain == GraphPatterns.MicrosoftDomain).ToList())
            if (Find(g, attention) is { } match) matches.Add(match);
        foreach (var m in matches) Fold(g, m);
        return g.CommitFused(matches.Count);
    }

    sealed record Match(NodeProto Attention, NodeProto MatMul, NodeProto? BiasAdd, string? Bias, long Width, long Q, long K, long V, long Out);

    static Match? Find(GraphPatterns g, NodeProto attention)
    {
        if (attention.GetInt("num_heads", 0) != 1 || attention.Input.Count is < 3 or > 4 || attention.Output.Skip(1).Any(o => o.Length > 0)
            || attention.Attribute.Any(a => !Understood.Contains(a.Name))) return null;
        if (g.Constant(attention.Input[1]) is not { Dims.Count: 2 } weight || g.Vector(attention.Input[2]) is not { } bias) return null;
        var (width, total) = (weight.Dims[0], weight.Dims[1]);
        var sizes = attention.GetInts("qkv_hidden_sizes") ?? [total / 3, total / 3, total / 3];
        if (sizes.Length != 3 || sizes.Sum() != total || bias.Length != total || sizes[0] != sizes[1]) return null;
        var matMul = g.OnlyConsumer(attention.Output[0], "MatMul");
        if (matMul is null || matMul.Input[0] != attention.Output[0] || g.Constant(matMul.Input[1]) is not { Dims.Count: 2 } wo || wo.Dims[0] != sizes[2]) return null;
        var outWidth = wo.Dims[1];
        // No more arithmetic than before (see the class comment), and a value at least as wide as the query, so that
        // the int8 forms can still give QAttention equal widths (Quantization/AttentionWidths).
        if (width * outWidth > width * sizes[2] + sizes[2] * outWidth || outWidth < sizes[0]) return null;
        var add = g.OnlyConsumer(matMul.Output[0], "Add");
        string? biasName = null;
        if (add is not null && g.SplitConstant(add, out var variable, out var constant) && variable == matMul.Output[0]
            && g.Vector(constant) is { } b && b.Length == outWidth)
            biasName = constant;
        else add = null;
        return new Match(attention, matMul, add, biasName, width, sizes[0], sizes[1], sizes[2], outWidth);
    }

    static void Fold(GraphPatterns g, Match m)
    {
        var weight = g.Floats(m.Attention.Input[1])!;
        var bias = g.Vector(m.Attention.Input[2])!;
        var wo = g.Floats(m.MatMul.Input[1])!;
        var bo = m.Bias is null ? null : g.Vector(m.Bias);
        var (d, qk, v, o) = ((int)m.Width, (int)(m.Q + m.K), (int)m.V, (int)m.Out);
        var total = qk + v;
        var newTotal = qk + o;
        var newWeight = new float[d * newTotal];
        var newBias = new float[newTotal];
        for (var r = 0; r < d; r++)
        {
            Array.Copy(weight, r * total, newWeight, r * newTotal, qk);
            for (var c = 0; c < o; c++)
            {
                // Accumulated in double so the folded weight is as close to the exact product as float allows.
                double s = 0;
                for (var k = 0; k < v; k++) s += (double)weight[r * total + qk + k] * wo[k * o + c];
                newWeight[r * newTotal + qk + c] = (float)s;
            }
        }
        Array.Copy(bias, newBias, qk);
        for (var c = 0; c < o; c++)
        {
            double s = bo?[c] ?? 0;
            for (var k = 0; k < v; k++) s += (double)bias[qk + k] * wo[k * o + c];
            newBias[qk + c] = (float)s;
        }
        var attributes = m.Attention.Attribute.Where(a => a.Name != "qkv_hidden_sizes").Select(a => a.Clone()).ToList();
        if (m.Q != m.Out || m.K != m.Out) attributes.Add(NodeAttributes.Ints("qkv_hidden_sizes", m.Q, m.K, m.Out));
        var inputs = m.Attention.Input.ToArray();
        inputs[1] = g.AddInitializer("AttentionOutputFold_qkv_weight", newWeight, m.Width, newTotal);
        inputs[2] = g.AddInitializer("AttentionOutputFold_qkv_bias", newBias, newTotal);
        var output = (m.BiasAdd ?? m.MatMul).Output[0];
        g.Fuse("Attention", inputs, [output], m.BiasAdd is null ? [m.Attention, m.MatMul] : [m.Attention, m.MatMul, m.BiasAdd], "AttentionOutputFold", attributes);
    }
}
