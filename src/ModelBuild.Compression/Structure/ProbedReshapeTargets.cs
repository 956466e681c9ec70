using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// Folds Reshape targets computed at run time in any form (keras2onnx/tf2onnx Tensordot:
/// <c>Cast(Concat(Unsqueeze(ReduceProd(Gather(Cast(Shape(x)), free))), ...))</c>) into constants that width scaling and
/// head pruning can edit, while batch and sequence stay dynamic. The graph is run at two input sizes (every symbolic
/// or unset input dim gets a different value in each run); the Reshape's output shape is its resolved target, so an
/// entry that is the same in both runs is a constant of the network (hidden size, heads, head dim, a fixed sequence
/// length), an entry that equals the reshaped input's dim at the same position in both runs becomes 0 (copy it), and one
/// remaining varying entry becomes -1. A target with two such entries (batch and sequence merged and split again on a
/// dynamic sequence) is left computed and the coupling analysis reports it, unless it is a Tensordot (below). Runs after
/// <see cref="GraphNormalizer.FoldComputedReshapeTargets"/>, which handles Hugging Face's form from one probe.
/// </summary>
public static class ProbedReshapeTargets
{
    /// <summary>Values given to the dynamic input dims in the two runs: distinct within a run and between runs.</summary>
    static readonly long[] FirstSizes = [2, 3, 5, 7, 11, 13], SecondSizes = [3, 5, 7, 11, 13, 17];

    /// <param name="probe">Runs a model and returns every tensor's shape, or null when it cannot run at that size.</param>
    /// <returns>How many targets were folded.</returns>
    public static int Fold(ModelProto model, Func<ModelProto, IReadOnlyDictionary<string, long[]>?> probe)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var computed = graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count > 1 && !initializers.Contains(n.Input[1])
            && !n.Attribute.Any(a => a.Name == "allowzero" && a.I != 0)).ToList();
        if (computed.Count == 0) return 0;
        var first = probe(AtSize(model, FirstSizes));
        var second = first is null ? null : probe(AtSize(model, SecondSizes));
        if (first is null || second is null) return 0;

        var targets = new Dictionary<NodeProto, long[]>();
        foreach (var reshape in computed)
        {
            if (Target(reshape, first, second) is { } target) targets[reshape] = target;
        }
        foreach (var reshape in computed.Where(r => !targets.ContainsKey(r)))
        {
            if (UnmergedMatMul(graph, reshape, first, second) is not var (merge, mergeTarget, split)) continue;
            targets[merge] = mergeTarget;
            targets[reshape] = split;
        }
        var view = new OnnxGraph(graph);
        int folded = 0;
        foreach (var reshape in computed.Concat(targets.Keys).Distinct().Where(targets.ContainsKey))
        {
            var target = targets[reshape];
            var shape = TensorData.Create(view.MakeUniqueName(reshape.Input[1] + "_folded"), target, target.Length);
            graph.Initializer.Add(shape);
            reshape.Input[1] = shape.Name;
            folded++;
        }
        if (folded > 0) GraphNormalizer.RemoveWhatFoldedTargetsLeftUnused(model);
        return folded;
    }

    static long[]? Target(NodeProto reshape, IReadOnlyDictionary<string, long[]> first, IReadOnlyDictionary<string, long[]> second)
    {
        if (!first.TryGetValue(reshape.Input[0], out var data1) || !second.TryGetValue(reshape.Input[0], out var data2)
            || !first.TryGetValue(reshape.Output[0], out var out1) || !second.TryGetValue(reshape.Output[0], out var out2)
            || out1.Length != out2.Length || data1.Length != data2.Length)
        {
            return null;
        }
        var target = new long[out1.Length];
        int inferred = 0;
        for (int p = 0; p < target.Length; p++)
        {
            if (out1[p] == out2[p])
            {
                target[p] = out1[p];
            }
            else if (p < data1.Length && out1[p] == data1[p] && out2[p] == data2[p])
            {
                target[p] = 0;
            }
            else
            {
                target[p] = -1;
                inferred++;
            }
        }
        // A constant 0 would mean "copy" to Reshape; an empty tensor is no shape to fold.
        return inferred <= 1 && !target.Select((v, p) => v == 0 && out1[p] == 0).Any(b => b) ? target : null;
    }

    /// <summary>
    /// Tensordot on a dynamic sequence: <c>Reshape(x [B,S,D] -> [B*S, D])</c>, <c>MatMul</c> by a 2-D weight, <c>Reshape(->
    /// [B,S,D'])</c>. The split back has two varying entries, so no constant expresses it; but MatMul broadcasts over
    /// leading dims, so the merge can keep them (<c>[0,0,D]</c>) and the split copies them (<c>[0,0,D']</c>), which computes
    /// the same and leaves D and D' editable. Returns the merge, its target and the split's target, or null.
    /// </summary>
    static (NodeProto Merge, long[] MergeTarget, long[] SplitTarget)? UnmergedMatMul(GraphProto graph, NodeProto split,
        IReadOnlyDictionary<string, long[]> first, IReadOnlyDictionary<string, long[]> second)
    {
        var matMul = OnlyProducerWithSingleReader(graph, split.Input[0]);
        if (matMul is not { OpType: "MatMul" } || !graph.Initializer.Any(t => t.Name == matMul.Input[1] && t.Dims.Count == 2)) return null;
        var merge = OnlyProducerWithSingleReader(graph, matMul.Input[0]);
        if (merge is not { OpType: "Reshape" } || merge.Attribute.Any(a => a.Name == "allowzero" && a.I != 0)) return null;
        long[]? mergeTarget = null, splitTarget = null;
        foreach (var shapes in new[] { first, second })
        {
            if (!shapes.TryGetValue(merge.Input[0], out var x) || !shapes.TryGetValue(merge.Output[0], out var merged)
                || !shapes.TryGetValue(split.Output[0], out var output) || x.Length < 3 || output.Length != x.Length || merged.Length != 2
                || merged[0] != x[..^1].Aggregate(1L, (a, d) => a * d) || merged[1] != x[^1] || !output[..^1].SequenceEqual(x[..^1]))
            {
                return null;
            }
            long[] m = [.. new long[x.Length - 1], x[^1]], o = [.. new long[x.Length - 1], output[^1]];
            if (mergeTarget is not null && (!mergeTarget.SequenceEqual(m) || !splitTarget!.SequenceEqual(o))) return null;
            (mergeTarget, splitTarget) = (m, o);
        }
        return (merge, mergeTarget!, splitTarget!);
    }

    /// <summary>The node producing <paramref name="tensor"/> when it is the tensor's only reader's input and no graph output.</summary>
    static NodeProto? OnlyProducerWithSingleReader(GraphProto graph, string tensor)
    {
        if (graph.Output.Any(o => o.Name == tensor) || graph.Node.Count(n => n.Input.Contains(tensor)) != 1) return null;
        return graph.Node.FirstOrDefault(n => n.Output.Contains(tensor));
    }

    /// <summary>A copy of <paramref name="model"/> whose dynamic input dims are fixed: one value per dim name.</summary>
    static ModelProto AtSize(ModelProto model, long[] sizes)
    {
        var copy = model.Clone();
        var initializers = copy.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var byName = new Dictionary<string, long>(StringComparer.Ordinal);
        int next = 0;
        long Next() => sizes[Math.Min(next++, sizes.Length - 1)];
        foreach (var input in copy.Graph.Input.Where(i => !initializers.Contains(i.Name)))
        {
            foreach (var dim in input.Type?.TensorType?.Shape?.Dim ?? [])
            {
                if (dim.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dim.DimValue > 0) continue;
                long value = dim.DimParam.Length > 0
                    ? byName.TryGetValue(dim.DimParam, out var v) ? v : byName[dim.DimParam] = Next()
                    : Next();
                dim.DimValue = value;
            }
        }
        return copy;
    }
}
