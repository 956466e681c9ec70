using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// Removes chosen units from a model: every initializer slice, Reshape constant and depthwise Conv group
/// count of every pruned group, all computed against the original indices and applied at once, so groups
/// meeting at a Concat (whose offsets shift) stay consistent. Stale value_info is dropped; graph inputs that
/// shadow initializers get their new dims.
/// </summary>
internal static class GroupRewriter
{
    public static void Apply(ModelProto model, IReadOnlyList<(PruningGroup Group, IReadOnlyCollection<int> RemovedUnits)> plan)
    {
        var removals = new Dictionary<(string, int), SortedSet<long>>();
        var shapeDecrements = new Dictionary<(string, int), long>();
        var groupDecrements = new Dictionary<string, long>();
        foreach (var (group, removed) in plan)
        {
            if (removed.Count == 0)
            {
                continue;
            }
            foreach (var p in group.Parameters)
            {
                var set = removals.TryGetValue((p.Initializer, p.Axis), out var s) ? s : removals[(p.Initializer, p.Axis)] = new SortedSet<long>();
                foreach (int u in removed)
                {
                    for (int j = 0; j < p.UnitSize; j++)
                    {
                        set.Add(p.Offset + (long)u * p.UnitSize + j);
                    }
                }
            }
            foreach (var e in group.ShapeEdits)
            {
                shapeDecrements[(e.Initializer, e.Index)] = shapeDecrements.GetValueOrDefault((e.Initializer, e.Index)) + (long)removed.Count * e.UnitSize;
            }
            foreach (var e in group.ConvGroupEdits)
            {
                groupDecrements[e.Node] = groupDecrements.GetValueOrDefault(e.Node) + (long)removed.Count * e.UnitSize;
            }
        }

        var graph = model.Graph;
        var index = Enumerable.Range(0, graph.Initializer.Count).ToDictionary(i => graph.Initializer[i].Name);
        foreach (var ((name, axis), drop) in removals.OrderBy(r => r.Key.Item1, StringComparer.Ordinal).ThenBy(r => r.Key.Item2))
        {
            int i = index[name];
            graph.Initializer[i] = SliceAxis(graph.Initializer[i], axis, drop);
        }
        foreach (var ((name, position), decrement) in shapeDecrements)
        {
            int i = index[name];
            long[] values = TensorData.ToInt64Array(graph.Initializer[i]);
            values[position] -= decrement;
            var replaced = TensorData.Create(name, values, graph.Initializer[i].Dims.ToArray());
            graph.Initializer[i] = replaced;
        }
        foreach (var node in graph.Node)
        {
            string key = node.Name.Length > 0 ? node.Name : node.OpType + ":" + node.Output.FirstOrDefault();
            if (groupDecrements.TryGetValue(key, out long dec))
            {
                node.Attribute.First(a => a.Name == "group").I -= dec;
            }
        }
        graph.ValueInfo.Clear();
        GraphNormalizer.SyncInitializerInputs(model);
    }

    /// <summary>A copy of <paramref name="tensor"/> without the indices <paramref name="drop"/> along <paramref name="axis"/>, any element type.</summary>
    internal static TensorProto SliceAxis(TensorProto tensor, int axis, IReadOnlySet<long> drop)
    {
        long[] dims = tensor.Dims.ToArray();
        byte[] bytes = TensorData.ToRawBytes(tensor);
        long count = TensorData.ElementCount(tensor);
        int elementSize = checked((int)(bytes.Length / Math.Max(count, 1)));
        long outer = dims.Take(axis).Aggregate(1L, (a, b) => a * b);
        long size = dims[axis];
        long innerBytes = dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b) * elementSize;
        var keep = Enumerable.Range(0, (int)size).Where(k => !drop.Contains(k)).ToArray();
        var result = new byte[outer * keep.Length * innerBytes];
        long cursor = 0;
        for (long o = 0; o < outer; o++)
        {
            foreach (int k in keep)
            {
                Buffer.BlockCopy(bytes, (int)((o * size + k) * innerBytes), result, (int)cursor, (int)innerBytes);
                cursor += innerBytes;
            }
        }
        dims[axis] = keep.Length;
        var sliced = TensorData.CreateFromRawBytes(tensor.Name, tensor.DataType, result, dims);
        sliced.DocString = tensor.DocString;
        return sliced;
    }
}
