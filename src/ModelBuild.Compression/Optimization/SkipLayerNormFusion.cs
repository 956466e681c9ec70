using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// A residual Add of two activations followed by LayerNormalization over the last axis becomes ONNX Runtime's
/// SkipLayerNormalization; a bias Add on one branch (a projection's bias) folds into its bias input. When the sum is
/// also read elsewhere (the residual stream of a pre-LN block) the fused node returns it as its fourth output.
/// A residual of a constant (e.g. a learned position table) is left alone: the contrib kernel wants two activations
/// of the same shape.
/// </summary>
public sealed class SkipLayerNormFusion() : ContribOperatorFusion("SkipLayerNormalization")
{
    protected override int Rewrite(GraphPatterns g)
    {
        var matches = new List<(List<string> Inputs, string[] Outputs, float Epsilon, List<NodeProto> Nodes)>();
        foreach (var ln in g.Graph.Nodes.Where(n => GraphPatterns.Is(n, "LayerNormalization")).ToList())
        {
            if (ln.GetInt("axis", -1) != -1 || ln.Input.Count < 2 || ln.Output.Count > 1) continue;
            var add = g.Producer(ln.Input[0]);
            if (!GraphPatterns.Is(add, "Add") || add!.Input[0] == add.Input[1] || g.IsConstant(add.Input[0]) || g.IsConstant(add.Input[1])) continue;
            var input = add.Input[0];
            var skip = add.Input[1];
            var removed = new List<NodeProto> { ln, add };
            string bias = "";
            // Fold the bias of one branch: Add(activation, 1-D constant) read only by the residual Add.
            foreach (var (branch, other) in new[] { (input, skip), (skip, input) })
            {
                var biasAdd = g.Producer(branch);
                if (GraphPatterns.Is(biasAdd, "Add") && g.IsPrivateTo(branch, add) && g.SplitConstant(biasAdd!, out var activation, out var b)
                    && g.Vector(b) is not null && !g.IsConstant(activation))
                {
                    (input, skip, bias) = (activation, other, b);
                    removed.Add(biasAdd!);
                    break;
                }
            }
            var sumReadElsewhere = !g.IsPrivateTo(add.Output[0], ln);
            var beta = ln.Input.Count > 2 ? ln.Input[2] : "";
            var inputs = new List<string> { input, skip, ln.Input[1], beta };
            if (bias.Length > 0) inputs.Add(bias);
            string[] outputs = sumReadElsewhere ? [ln.Output[0], "", "", add.Output[0]] : [ln.Output[0]];
            matches.Add((inputs, outputs, ln.GetFloat("epsilon", 1e-5f), removed));
        }
        // Rewrite after matching, so that no match sees another's half-made edit.
        foreach (var m in matches)
        {
            g.Fuse("SkipLayerNormalization", m.Inputs, m.Outputs, m.Nodes, outputPrefix: "SkipLayerNorm", [NodeAttributes.Float("epsilon", m.Epsilon)]);
        }
        return g.CommitFused(matches.Count);
    }
}
