using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// Runs a padded encoder on the positions that hold tokens only: the [B,S] inputs are sliced at run time to
/// L = 1 + the last position any row keeps (at least 1), so a row of 9 tokens padded to 32 costs 9 positions of
/// QKV/FFN/attention instead of 32. At batch 1 and one thread that padding, not operator overhead, is where most of
/// the time went (benchmarks/RESULTS.md "Graph optimization").
/// <para>
/// Exact, not approximate, for the graphs it accepts, which it proves from structure (after the Attention fusion):
/// every fused Attention masks keys with the same [B,S] keep tensor (so a dropped position was never attended to), and
/// every node that reads a sequence-carrying value treats positions independently (elementwise with constants or
/// other sequence values, MatMul by a constant, LayerNormalization/SkipLayerNormalization over the last axis, the GELU
/// forms, embedding Gathers and EmbedLayerNormalization), except the poolings that reduce the sequence axis: ReduceSum of a value multiplied by
/// the keep (masked sum and count) or the value at position 0 (CLS). Constants laid out along the sequence
/// (a [1,S,H] position table) are sliced with the inputs; position ids made from Shape and a constant range follow
/// the new length by themselves. Anything else that reads a sequence value (Reshape, Transpose, ReduceMean, a graph
/// output with a sequence axis, a second mask) leaves the graph untouched.
/// </para>
/// </summary>
public sealed class SequenceTrimFusion : IGraphFusion
{
    public string Name => "SequenceTrim";
    public string FusedOperator => "Slice";

    /// <summary>A value that has the sequence axis: where it is, the value's rank, and whether it is 0 wherever the keep is.</summary>
    sealed record Seq(int Axis, int Rank, bool Masked);

    /// <summary>Nodes that act on each element alone (unary or broadcasting n-ary).</summary>
    static readonly HashSet<string> Elementwise =
    [
        "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Not",
        "Where", "Max", "Min", "Cast", "Identity", "Erf", "Tanh", "Sqrt", "Relu", "Sigmoid", "Neg", "Abs", "Exp", "Clip",
    ];

    static readonly HashSet<string> ContribPerPosition = ["BiasGelu", "Gelu", "FastGelu"];

    public int Apply(OnnxModel model)
    {
        if ((model.GetOpsetVersion("") ?? 0) < 13) return 0;
        var g = new GraphPatterns(model);
        var attentions = g.Graph.Nodes.Where(n => n.OpType == "Attention" && n.Domain == GraphPatterns.MicrosoftDomain).ToList();
        if (attentions.Count == 0) return 0;
        // One mask for every attention: mask_index = Cast(keep, int32), the keep computed elementwise from [B,S] inputs.
        var maskIndices = attentions.Select(a => a.Input.Count == 4 ? a.Input[3] : "").Distinct().ToList();
        if (maskIndices.Count != 1 || maskIndices[0].Length == 0) return 0;
        var maskCast = g.Producer(maskIndices[0]);
        if (!GraphPatterns.Is(maskCast, "Cast") || maskCast.GetInt("to", 0) != (long)TensorProto.Types.DataType.Int32) return 0;
        var keep = maskCast.Input[0];
        var keepChain = KeepChain(g, keep);
        if (keepChain is null) return 0;
        var (chain, sources) = keepChain.Value;
        var sequenceInputs = SequenceInputs(g, sources);
        if (sequenceInputs is null) return 0;

        var seq = sequenceInputs.ToDictionary(i => i, i => new Seq(1, 2, i == keep), StringComparer.Ordinal);
        if (!Propagate(g, seq, keep, maskIndices[0], out var positional)) return 0;

        if (seq[keep] is not { Axis: 1, Rank: 2 }) return 0;
        var inChain = chain.ToHashSet();
        var chainValues = chain.SelectMany(n => n.Output).Where(o => o.Length > 0).ToList();
        if (!chainValues.All(seq.ContainsKey)) return 0;

        // Everything but the keep's own nodes reads the trimmed inputs. The keep is computed once, on the untrimmed
        // inputs (it gives L), and its values are sliced for the nodes that read them: one Slice instead of a second
        // copy of the keep's nodes on the trimmed inputs.
        var readers = chainValues.ToDictionary(v => v, v => g.Consumers(v).Where(c => !inChain.Contains(c)).ToList(), StringComparer.Ordinal);
        var rename = sequenceInputs.ToDictionary(i => i, i => g.Graph.MakeUniqueName(i + "_trimmed"), StringComparer.Ordinal);
        foreach (var node in g.Graph.Nodes.Where(n => !inChain.Contains(n)))
            for (var i = 0; i < node.Input.Count; i++)
                if (rename.TryGetValue(node.Input[i], out var trimmedName)) node.Input[i] = trimmedName;
        g.Graph.Invalidate();
        var prefix = "SequenceTrim";
        var starts = g.AddInitializer(prefix + "_starts", new long[] { 0 }, 1);
        var ends = Ends(g, keep, StaticLength(g, sequenceInputs[0]), prefix);
        foreach (var (value, readersOfValue) in readers.Where(r => r.Value.Count > 0))
        {
            var sliced = g.AddNodeOutput("Slice", [value, starts, ends, g.AddInitializer(prefix + "_axes", new long[] { seq[value].Axis }, 1)], prefix);
            foreach (var reader in readersOfValue)
                for (var i = 0; i < reader.Input.Count; i++)
                    if (reader.Input[i] == value) reader.Input[i] = sliced;
        }
        g.Graph.Invalidate();
        foreach (var (raw, trimmed) in rename)
            g.Graph.AddNode("Slice", [raw, starts, ends, g.AddInitializer(prefix + "_axes", new long[] { 1 }, 1)], [trimmed]);
        // The keep's own nodes read the untrimmed inputs, so their sequence-laid constants stay whole too.
        foreach (var (node, input, axis) in positional.Where(p => !inChain.Contains(p.Node)))
            node.Input[input] = g.AddNodeOutput("Slice", [node.Input[input], starts, ends, g.AddInitializer(prefix + "_axes", new long[] { axis }, 1)], prefix);
        // Shapes recorded for the padded length would contradict the trimmed one.
        foreach (var info in g.Graph.Proto.ValueInfo.Where(v => seq.ContainsKey(v.Name)).ToList()) g.Graph.Proto.ValueInfo.Remove(info);
        g.Commit();
        return 1;
    }

    /// <summary>
    /// The Slice end [L] for a [B,S] keep: L = max(1, max over rows of the last kept position + 1), computed as
    /// ReduceMax(Cast(keep, int64) * [1..S]) with the positions a constant when S is fixed (a Range over Shape otherwise).
    /// </summary>
    static string Ends(GraphPatterns g, string keep, long? staticLength, string prefix)
    {
        var one = g.AddInitializer(prefix + "_one", new long[] { 1 }, 1);
        var asBool = g.IsBoolean(keep) ? keep : g.AddNodeOutput("Cast", [keep], prefix, NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Bool));
        string positions;
        if (staticLength is { } s)
            positions = g.AddInitializer(prefix + "_positions", Enumerable.Range(1, (int)s).Select(p => (long)p).ToArray(), s);
        else
        {
            var unit = g.AddInitializer(prefix + "_unit", new long[] { 1 });
            var length = g.AddNodeOutput("Gather", [g.AddNodeOutput("Shape", [asBool], prefix), g.AddInitializer(prefix + "_axis", new long[] { 1 })], prefix, NodeAttributes.Int("axis", 0));
            positions = g.AddNodeOutput("Range", [unit, g.AddNodeOutput("Add", [length, unit], prefix), unit], prefix);
        }
        // keep * [1..S] as Cast + Mul, not Where(keep, [1..S], 0): ONNX Runtime's Where kernel cost more than both
        // together at batch 1 (benchmarks/RESULTS.md "Fewer and cheaper nodes for the sample's student").
        var asInt = g.AddNodeOutput("Cast", [asBool], prefix, NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Int64));
        var weighted = g.AddNodeOutput("Mul", [asInt, positions], prefix);
        var last = g.AddNodeOutput("ReduceMax", [weighted], prefix, NodeAttributes.Int("keepdims", 0));
        // Max of the scalar and [1] is the [1] that Slice takes.
        return g.AddNodeOutput("Max", [last, one], prefix);
    }

    /// <summary>S of a [B,S] input when the graph fixes it, else null.</summary>
    static long? StaticLength(GraphPatterns g, string input) =>
        g.Graph.RealInputs().First(i => i.Name == input).Type?.TensorType?.Shape is { Dim.Count: 2 } shape && shape.Dim[1].HasDimValue ? shape.Dim[1].DimValue : null;

    /// <summary>The nodes computing the keep from graph inputs (elementwise with constants only) and those inputs.</summary>
    static (List<NodeProto> Chain, HashSet<string> Sources)? KeepChain(GraphPatterns g, string keep)
    {
        var chain = new List<NodeProto>();
        var sources = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([keep]);
        while (pending.Count > 0)
        {
            var value = pending.Pop();
            if (g.Graph.IsGraphInput(value) && !g.IsConstant(value)) { sources.Add(value); continue; }
            if (g.IsConstant(value)) continue;
            var node = g.Producer(value);
            if (node is null || node.Domain is not ("" or "ai.onnx") || !Elementwise.Contains(node.OpType) || chain.Count > 8) return null;
            if (!chain.Contains(node)) chain.Insert(0, node);
            foreach (var input in node.Input.Where(i => i.Length > 0)) pending.Push(input);
        }
        if (sources.Count == 0) return null;
        var order = g.Graph.TopologicalOrder().Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        return (chain.OrderBy(n => order[n]).ToList(), sources);
    }

    /// <summary>Every [B,S] graph input with the keep's sequence dimension; null when a source is not such an input.</summary>
    static List<string>? SequenceInputs(GraphPatterns g, HashSet<string> sources)
    {
        static TensorShapeProto.Types.Dimension? Dim1(ValueInfoProto v) =>
            v.Type?.TensorType?.Shape is { Dim.Count: 2 } s ? s.Dim[1] : null;
        static bool Same(TensorShapeProto.Types.Dimension a, TensorShapeProto.Types.Dimension b) =>
            a.HasDimParam ? b.HasDimParam && a.DimParam == b.DimParam : a.HasDimValue && b.HasDimValue && a.DimValue == b.DimValue && a.DimValue > 1;
        var inputs = g.Graph.RealInputs().ToList();
        var first = inputs.FirstOrDefault(i => sources.Contains(i.Name));
        if (first is null || Dim1(first) is not { } dim) return null;
        var all = inputs.Where(i => Dim1(i) is { } d && Same(d, dim)).Select(i => i.Name).ToList();
        return sources.All(all.Contains) ? all : null;
    }

    /// <summary>
    /// Follows the sequence axis through the graph; false when a node could mix positions or depend on the padded
    /// length. <paramref name="positional"/>: constant inputs laid out along the sequence, to slice with the inputs.
    /// </summary>
    static bool Propagate(GraphPatterns g, Dictionary<string, Seq> seq, string keep, string maskIndex, out List<(NodeProto Node, int Input, long Axis)> positional)
    {
        var walk = new SequenceWalk(g, seq, keep, maskIndex);
        positional = walk.Positional;
        return walk.Run();
    }

    /// <summary>One walk of <see cref="Propagate"/>: what it knows so far about the values that carry the sequence axis or its length.</summary>
    sealed class SequenceWalk(GraphPatterns g, Dictionary<string, Seq> seq, string keep, string maskIndex)
    {
        public List<(NodeProto Node, int Input, long Axis)> Positional { get; } = [];
        readonly Dictionary<string, int> _shapes = new(StringComparer.Ordinal); // Shape(seq value) -> its sequence axis
        readonly HashSet<string> _lengths = new(StringComparer.Ordinal);          // the sequence length as a value

        bool ReadsLength(string input) => _shapes.ContainsKey(input) || _lengths.Contains(input);

        public bool Run()
        {
            foreach (var node in g.Graph.TopologicalOrder())
            {
                if (node.Output.Contains(keep) && !seq.ContainsKey(keep))
                {
                    // The keep is computed here: it must come out as a masked [B,S] value.
                    if (!ElementwiseNode(g, node, seq, Positional, out var keepSeq) || keepSeq is null) return false;
                    seq[keep] = keepSeq with { Masked = true };
                    continue;
                }
                var seqInputs = node.Input.Where(seq.ContainsKey).ToList();
                if (seqInputs.Count == 0 && !node.Input.Any(ReadsLength)) continue;
                if (!Step(node, seqInputs)) return false;
            }
            return !g.Graph.Proto.Output.Any(o => seq.ContainsKey(o.Name) || ReadsLength(o.Name));
        }

        /// <summary>One node that reads a sequence value or the length: false when it could mix positions or depend on the padded length.</summary>
        bool Step(NodeProto node, List<string> seqInputs)
        {
            var standard = node.Domain is "" or "ai.onnx";
            if (standard && LengthNode(node, seqInputs) is { } handled) return handled;
            if (_shapes.Count > 0 && node.Input.Any(ReadsLength)) return false;
            return standard ? StandardNode(node, seqInputs) : node.Domain == GraphPatterns.MicrosoftDomain && ContribNode(node);
        }

        /// <summary>The shape and length of a sequence value (Shape, a Gather of a dimension, Unsqueeze) and position ids sliced to it; null: not such a node.</summary>
        bool? LengthNode(NodeProto node, List<string> seqInputs)
        {
            var op = node.OpType;
            if (op == "Shape" && seqInputs.Count == 1 && !node.HasAttribute("start") && !node.HasAttribute("end"))
            {
                _shapes[node.Output[0]] = seq[node.Input[0]].Axis;
                return true;
            }
            if (op == "Gather" && _shapes.TryGetValue(node.Input[0], out var shapeAxis))
            {
                // A dimension of a sequence value: the length itself, or another (unchanged) dimension.
                if (g.Int64s(node.Input[1]) is not { Length: 1 } index) return false;
                if (index[0] == shapeAxis) _lengths.Add(node.Output[0]);
                return true;
            }
            if (op == "Unsqueeze" && _lengths.Contains(node.Input[0]))
            {
                _lengths.Add(node.Output[0]);
                return true;
            }
            if (op == "Slice" && node.Input.Count >= 4 && _lengths.Contains(node.Input[2]) && g.Constant(node.Input[0]) is { } data)
            {
                // Position ids: a constant sliced to the length along one axis, from 0 in steps of 1.
                if (g.Int64s(node.Input[1]) is not [0] || g.Int64s(node.Input[3]) is not [var axis]) return false;
                if (node.Input.Count > 4 && node.Input[4].Length > 0 && g.Int64s(node.Input[4]) is not [1]) return false;
                var rank = data.Dims.Count;
                seq[node.Output[0]] = new Seq((int)(axis < 0 ? axis + rank : axis), rank, false);
                return true;
            }
            return null;
        }

        /// <summary>A standard operator reading sequence values: per position (elementwise, MatMul by a constant, embedding Gather, Unsqueeze, LayerNormalization) or a pooling that is exact (CLS Gather, masked ReduceSum).</summary>
        bool StandardNode(NodeProto node, List<string> seqInputs)
        {
            var op = node.OpType;
            if (Elementwise.Contains(op)) return PerElement(node);
            if (op == "MatMul" && node.Input[0] is var x && seq.TryGetValue(x, out var xs) && !seq.ContainsKey(node.Input[1])
                && g.Constant(node.Input[1]) is { Dims.Count: 2 } && xs.Axis < xs.Rank - 1)
            {
                seq[node.Output[0]] = xs with { Masked = false };
                return true;
            }
            if (op == "Gather" && node.GetInt("axis", 0) == 0 && g.Constant(node.Input[0]) is { } table && seq.TryGetValue(node.Input[1], out var ids) && !seq.ContainsKey(node.Input[0]))
            {
                seq[node.Output[0]] = new Seq(ids.Axis, ids.Rank + table.Dims.Count - 1, false);
                return true;
            }
            if (op == "Gather" && seq.TryGetValue(node.Input[0], out var pooled) && !seq.ContainsKey(node.Input[1]))
            {
                // The value at position 0 (CLS pooling): there whatever L is.
                var axis = node.GetInt("axis", 0);
                return (axis < 0 ? axis + pooled.Rank : axis) == pooled.Axis && g.Int64s(node.Input[1]) is [0];
            }
            if (op == "Unsqueeze" && seq.TryGetValue(node.Input[0], out var u)) return Unsqueeze(node, u);
            if (op == "ReduceSum" && seqInputs.Count == 1 && seqInputs[0] == node.Input[0])
            {
                // A masked sum over the sequence: the dropped positions added 0.
                var s = seq[node.Input[0]];
                return s.Masked && g.ReduceAxes(node) is [var a] && (a < 0 ? a + s.Rank : a) == s.Axis;
            }
            if (op == "LayerNormalization" && seqInputs.Count == 1 && seqInputs[0] == node.Input[0]
                && seq[node.Input[0]] is var ln && LastAxis(node.GetInt("axis", -1), ln) && node.Output.Skip(1).All(o => o.Length == 0 || g.Consumers(o).Count == 0))
            {
                seq[node.Output[0]] = ln with { Masked = false };
                return true;
            }
            return false;
        }

        bool PerElement(NodeProto node)
        {
            if (!ElementwiseNode(g, node, seq, Positional, out var result)) return false;
            if (result is not null) seq[node.Output[0]] = result;
            return true;
        }

        bool Unsqueeze(NodeProto node, Seq u)
        {
            var axes = node.GetInts("axes") ?? (node.Input.Count > 1 ? g.Int64s(node.Input[1]) : null);
            if (axes is null) return false;
            var rank = u.Rank + axes.Length;
            var dims = Enumerable.Range(0, u.Rank).Select(d => d == u.Axis).ToList();
            foreach (var a in axes.Select(a => a < 0 ? a + rank : a).Order())
            {
                if (a < 0 || a > dims.Count) return false;
                dims.Insert((int)a, false);
            }
            seq[node.Output[0]] = new Seq(dims.IndexOf(true), rank, u.Masked);
            return true;
        }

        /// <summary>ONNX Runtime's contrib operators that keep positions apart: the GELU forms, SkipLayerNormalization, EmbedLayerNormalization, Attention under the one keep mask.</summary>
        bool ContribNode(NodeProto node)
        {
            var op = node.OpType;
            if (ContribPerPosition.Contains(op)) return PerElement(node);
            if (op == "SkipLayerNormalization" && seq.TryGetValue(node.Input[0], out var sk)
                && node.Input.Skip(2).All(i => i.Length == 0 || g.IsConstant(i)) && (node.Input.Count < 2 || seq.ContainsKey(node.Input[1]))
                && node.Output.Skip(1).Take(2).All(o => o.Length == 0 || g.Consumers(o).Count == 0))
            {
                seq[node.Output[0]] = sk with { Masked = false };
                if (node.Output.Count > 3 && node.Output[3].Length > 0) seq[node.Output[3]] = sk with { Masked = false };
                return true;
            }
            if (op == "EmbedLayerNormalization" && seq.TryGetValue(node.Input[0], out var ids2)
                && ids2 is { Rank: 2, Axis: 1 } && node.Input.Skip(1).Select((v, i) => (v, i: i + 1)).All(p => p.v.Length == 0 || (p.i is 1 or 7 or 8 ? seq.ContainsKey(p.v) : g.IsConstant(p.v))))
            {
                // Per position (its position table is read from position 0 on); the mask_index output counts the keep's
                // ones, which the dropped positions did not have.
                seq[node.Output[0]] = new Seq(1, 3, false);
                if (node.Output.Count > 2 && node.Output[2].Length > 0) seq[node.Output[2]] = new Seq(1, 3, false);
                return true;
            }
            if (op == "Attention" && node.Input.Count == 4 && node.Input[3] == maskIndex
                && seq.TryGetValue(node.Input[0], out var xa) && xa is { Rank: 3, Axis: 1 } && !seq.ContainsKey(node.Input[1]) && !seq.ContainsKey(node.Input[2])
                && node.Output.Skip(1).All(o => o.Length == 0 || g.Consumers(o).Count == 0))
            {
                seq[node.Output[0]] = xa with { Masked = false };
                return true;
            }
            return false;
        }
    }

    static bool LastAxis(long axis, Seq s) => axis == -1 || axis == s.Rank - 1;

    /// <summary>
    /// An elementwise node with at least one sequence input: the output's sequence layout (null when no input has one).
    /// The other inputs must be sequence values with the same aligned axis, or constants; a constant with more than one
    /// element on that axis is positional and is recorded for slicing.
    /// </summary>
    static bool ElementwiseNode(GraphPatterns g, NodeProto node, Dictionary<string, Seq> seq, List<(NodeProto, int, long)> positional, out Seq? result)
    {
        result = null;
        var inputs = node.Input.Select((name, i) => (name, i)).Where(p => p.name.Length > 0).ToList();
        var seqs = inputs.Where(p => seq.ContainsKey(p.name)).Select(p => seq[p.name]).ToList();
        if (seqs.Count == 0) return true;
        var constants = inputs.Where(p => !seq.ContainsKey(p.name)).Select(p => (p.i, Tensor: g.Constant(p.name))).ToList();
        if (constants.Any(c => c.Tensor is null)) return false;
        var rank = Math.Max(seqs.Max(s => s.Rank), constants.Select(c => c.Tensor!.Dims.Count).DefaultIfEmpty(0).Max());
        var aligned = seqs.Select(s => s.Axis + rank - s.Rank).Distinct().ToList();
        if (aligned.Count != 1) return false;
        var axis = aligned[0];
        foreach (var (index, tensor) in constants)
        {
            var at = axis - (rank - tensor!.Dims.Count);
            if (at >= 0 && tensor.Dims[at] != 1) positional.Add((node, index, at));
        }
        // Zero where the keep is 0 survives a product with anything, a Cast and an Identity.
        var masked = node.OpType switch
        {
            "Mul" or "And" => seqs.Any(s => s.Masked),
            "Cast" or "Identity" => seqs[0].Masked,
            _ => false,
        };
        result = new Seq(axis, rank, masked);
        return true;
    }
}
