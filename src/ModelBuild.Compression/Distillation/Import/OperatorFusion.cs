using Onnx;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// Recognizes the decomposed LayerNorm and exact-GELU subgraphs that <c>torch.onnx.export</c> writes below opset 17/20
/// and runs each as one <c>LayerNormalization</c> / <c>Gelu</c> node (TorchSharp's <c>functional.layer_norm</c> and
/// <c>gelu</c>): the same math, but one kernel and one autograd node instead of nine or five, which is what makes a
/// training step of an imported transformer cost what the PyTorch module's does. Only the execution plan changes; the
/// module's <see cref="OnnxGraphModule.Model"/> (and so the exported graph) keeps the original nodes.
/// <list type="bullet">
/// <item>LayerNorm: <c>m = ReduceMean(x, [-1]); d = x - m; v = ReduceMean(d ^ 2, [-1]); y = d / Sqrt(v + eps) * g + b</c></item>
/// <item>GELU: <c>y = x * (Erf(x / sqrt 2) + 1) * 0.5</c></item>
/// </list>
/// A subgraph is fused only when its intermediate values feed nothing outside it and are not graph outputs or
/// tensors the caller wants to read (<c>preserve</c>), and its constants have exactly the expected values.
/// </summary>
public static class OperatorFusion
{
    /// <param name="constantOf">The value of an initializer (trainable or not) or Constant output; null for computed values.</param>
    public static List<NodeProto> Fuse(IReadOnlyList<NodeProto> nodes, Func<string, Tensor?> constantOf, IReadOnlySet<string> preserve)
    {
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var i in n.Input.Where(i => i.Length > 0))
            {
                if (!consumers.TryGetValue(i, out var list)) consumers[i] = list = new List<NodeProto>();
                list.Add(n);
            }
            foreach (var o in n.Output) producer[o] = n;
        }
        List<NodeProto> Consumers(string v) => consumers.GetValueOrDefault(v) ?? new List<NodeProto>();
        NodeProto? Only(string v, string opType) => Consumers(v) is [var c] && c.OpType == opType && !preserve.Contains(v) ? c : null;
        double? Scalar(string name)
        {
            if (constantOf(name) is not { } t || t.numel() != 1 || !t.is_floating_point()) return null;
            using var d = t.to_type(ScalarType.Float64);
            return d.item<double>();
        }
        string? Other(NodeProto n, string known) => n.Input.Count == 2 ? (n.Input[0] == known ? n.Input[1] : n.Input[1] == known ? n.Input[0] : null) : null;
        bool LastAxisOnly(NodeProto reduce)
        {
            var axes = reduce.Attribute.FirstOrDefault(a => a.Name == "axes")?.Ints.ToArray()
                ?? (reduce.Input.Count > 1 && constantOf(reduce.Input[1]) is { } t ? OnnxNodeContext.ToLongs(t) : null);
            bool keep = (reduce.Attribute.FirstOrDefault(a => a.Name == "keepdims")?.I ?? 1) != 0;
            return keep && axes is [-1];
        }

        var replaced = new Dictionary<NodeProto, NodeProto?>(ReferenceEqualityComparer.Instance); // original -> fused (first node) or null (dropped)
        foreach (var mean in nodes.Where(n => n.OpType == "ReduceMean"))
        {
            if (replaced.ContainsKey(mean) || !LastAxisOnly(mean)) continue;
            string x = mean.Input[0];
            var sub = Only(mean.Output[0], "Sub");
            if (sub is null || sub.Input[0] != x || sub.Input[1] != mean.Output[0]) continue;
            var dUsers = Consumers(sub.Output[0]);
            if (dUsers.Count != 2 || preserve.Contains(sub.Output[0])) continue;
            var pow = dUsers.FirstOrDefault(u => u.OpType == "Pow" && u.Input[0] == sub.Output[0]);
            var div = dUsers.FirstOrDefault(u => u.OpType == "Div" && u.Input[0] == sub.Output[0]);
            if (pow is null || div is null || Scalar(pow.Input[1]) != 2.0) continue;
            var mean2 = Only(pow.Output[0], "ReduceMean");
            if (mean2 is null || !LastAxisOnly(mean2)) continue;
            var addEps = Only(mean2.Output[0], "Add");
            if (addEps is null || Other(addEps, mean2.Output[0]) is not { } epsName || Scalar(epsName) is not double eps) continue;
            var sqrt = Only(addEps.Output[0], "Sqrt");
            if (sqrt is null || div.Input[1] != sqrt.Output[0] || Consumers(sqrt.Output[0]).Count != 1 || preserve.Contains(sqrt.Output[0])) continue;
            var mul = Only(div.Output[0], "Mul");
            if (mul is null || Other(mul, div.Output[0]) is not { } scale || constantOf(scale) is not { } scaleValue || scaleValue.dim() != 1) continue;
            var add = Only(mul.Output[0], "Add");
            if (add is null || Other(add, mul.Output[0]) is not { } bias || constantOf(bias) is not { } biasValue || biasValue.dim() != 1) continue;

            var fused = new NodeProto { OpType = "LayerNormalization", Name = mean.Name + "/fused_LayerNormalization", Input = { x, scale, bias }, Output = { add.Output[0] } };
            fused.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
            fused.Attribute.Add(new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = (float)eps });
            replaced[mean] = fused;
            foreach (var n in new[] { sub, pow, mean2, addEps, sqrt, div, mul, add }) replaced[n] = null;
        }

        foreach (var div in nodes.Where(n => n.OpType == "Div"))
        {
            if (replaced.ContainsKey(div) || Scalar(div.Input[1]) is not double d || Math.Abs(d - Math.Sqrt(2)) > 1e-6) continue;
            string x = div.Input[0];
            var erf = Only(div.Output[0], "Erf");
            if (erf is null) continue;
            var add = Only(erf.Output[0], "Add");
            if (add is null || Other(add, erf.Output[0]) is not { } one || Scalar(one) != 1.0) continue;
            var mul = Only(add.Output[0], "Mul");
            if (mul is null || Other(mul, add.Output[0]) != x) continue;
            var half = Only(mul.Output[0], "Mul");
            if (half is null || Other(half, mul.Output[0]) is not { } h || Scalar(h) != 0.5) continue;
            replaced[div] = new NodeProto { OpType = "Gelu", Name = div.Name + "/fused_Gelu", Input = { x }, Output = { half.Output[0] } };
            foreach (var n in new[] { erf, add, mul, half }) replaced[n] = null;
        }

        var result = new List<NodeProto>(nodes.Count);
        foreach (var n in nodes)
        {
            if (!replaced.TryGetValue(n, out var f)) result.Add(n);
            else if (f is not null) result.Add(f);
        }
        // A fused node sits where its first node was, but reads only values available there (x, constants), and its
        // output is read only after the last original node of its pattern, which it precedes: order stays valid.
        return result;
    }
}
