using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// Puts a graph in the form the dependency analysis expects, without changing what it computes or its opset:
/// Constant nodes become initializers (so every constant operand is an initializer), a Reshape of an
/// initializer by a constant shape is folded (mnist-8 reshapes its Gemm weight at run time), and every
/// Reshape gets its own shape initializer (so pruning one head group cannot edit another Reshape's shape).
/// <see cref="FoldComputedReshapeTargets"/> (run with probed shapes) does the same for Reshape targets assembled at
/// run time from a tensor's shape.
/// </summary>
public static class GraphNormalizer
{
    public static void Normalize(ModelProto model)
    {
        var graph = model.Graph;
        ConstantsToInitializers(model);
        FoldConstantReshapes(model);
        UnshareReshapeShapes(model);
        var before = graph.Initializer.Select(t => t.Name).ToHashSet();
        new OnnxGraph(graph).RemoveUnusedNodesAndInitializers();
        before.ExceptWith(graph.Initializer.Select(t => t.Name));
        SyncInitializerInputs(model, before);
    }

    private static void ConstantsToInitializers(ModelProto model)
    {
        var graph = model.Graph;
        for (int i = graph.Node.Count - 1; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.OpType != "Constant" || node.Domain is not ("" or "ai.onnx") || node.Attribute.Count != 1)
            {
                continue;
            }
            var attribute = node.Attribute[0];
            TensorProto? tensor = attribute.Name switch
            {
                "value" => attribute.T.Clone(),
                "value_float" => TensorData.CreateScalar(node.Output[0], attribute.F),
                "value_int" => TensorData.CreateScalar(node.Output[0], attribute.I),
                "value_floats" => TensorData.Create(node.Output[0], attribute.Floats.ToArray(), attribute.Floats.Count),
                "value_ints" => TensorData.Create(node.Output[0], attribute.Ints.ToArray(), attribute.Ints.Count),
                _ => null,
            };
            if (tensor is null)
            {
                continue;
            }
            tensor.Name = node.Output[0];
            graph.Initializer.Add(tensor);
            graph.Node.RemoveAt(i);
        }
    }

    /// <summary>
    /// Rewrites Reshape targets assembled at run time as Concat(parts), every part a constant or
    /// <c>Unsqueeze(Gather(Shape(x), i))</c> (Hugging Face attention: <c>Concat(Shape(x)[0], Shape(x)[1], heads,
    /// head_dim)</c> and back), into constants, so the head count is a constant that width scaling and head pruning edit
    /// while batch and sequence stay dynamic: a part at position p reading dim p of a tensor whose dim p equals the
    /// reshaped input's in <paramref name="shapes"/> (one probe run) becomes 0 (copy the input's dim); one other
    /// computed part becomes -1 (its value is then the only one the reshape can have); constants stay. Other forms are
    /// left alone (the coupling analysis then reports them). Returns how many targets were folded; the Shape/Gather
    /// nodes they used are removed when nothing else reads them.
    /// </summary>
    public static int FoldComputedReshapeTargets(ModelProto model, IReadOnlyDictionary<string, long[]> shapes)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var producers = new Dictionary<string, NodeProto>();
        foreach (var n in graph.Node) foreach (var o in n.Output) producers[o] = n;
        var view = new OnnxGraph(graph);
        int folded = 0;
        foreach (var reshape in graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count > 1).ToList())
        {
            if (initializers.ContainsKey(reshape.Input[1]) || reshape.Attribute.Any(a => a.Name == "allowzero" && a.I != 0)
                || !producers.TryGetValue(reshape.Input[1], out var concat) || concat.OpType != "Concat"
                || !shapes.TryGetValue(reshape.Input[0], out var dataShape))
            {
                continue;
            }
            var target = new List<long>();
            int inferred = 0;
            foreach (var part in concat.Input)
            {
                if (initializers.TryGetValue(part, out var constant) && constant.DataType == (int)TensorProto.Types.DataType.Int64 && constant.Dims.Count <= 1)
                {
                    var values = TensorData.ToInt64Array(constant);
                    inferred += values.Count(v => v == -1);
                    target.AddRange(values);
                    continue;
                }
                if (ShapeDim(part, producers, initializers) is not var (source, dim) || !shapes.TryGetValue(source, out var sourceShape) || dim >= sourceShape.Length)
                {
                    target.Clear();
                    break;
                }
                int p = target.Count;
                if (dim == p && p < dataShape.Length && dataShape[p] == sourceShape[dim])
                {
                    target.Add(0);
                }
                else
                {
                    target.Add(-1);
                    inferred++;
                }
            }
            if (target.Count == 0 || inferred > 1)
            {
                continue;
            }
            var shape = TensorData.Create(view.MakeUniqueName(reshape.Input[1] + "_folded"), target.ToArray(), target.Count);
            graph.Initializer.Add(shape);
            initializers[shape.Name] = shape;
            reshape.Input[1] = shape.Name;
            folded++;
        }
        if (folded > 0) RemoveWhatFoldedTargetsLeftUnused(model);
        return folded;
    }

    /// <summary>(x, i) when <paramref name="name"/> is Unsqueeze(Gather(Shape(x), i)) (a 1-element dim of x), else null.</summary>
    private static (string Source, long Dim)? ShapeDim(string name, Dictionary<string, NodeProto> producers, Dictionary<string, TensorProto> initializers)
    {
        if (!producers.TryGetValue(name, out var unsqueeze) || unsqueeze.OpType != "Unsqueeze"
            || !producers.TryGetValue(unsqueeze.Input[0], out var gather) || gather.OpType != "Gather"
            || gather.Attribute.Any(a => a.Name == "axis" && a.I != 0)
            || !producers.TryGetValue(gather.Input[0], out var shape) || shape.OpType != "Shape" || shape.Attribute.Count > 0
            || !initializers.TryGetValue(gather.Input[1], out var index) || index.Dims.Count != 0)
        {
            return null;
        }
        var axes = unsqueeze.Input.Count > 1 && initializers.TryGetValue(unsqueeze.Input[1], out var a) ? TensorData.ToInt64Array(a)
            : unsqueeze.Attribute.FirstOrDefault(x => x.Name == "axes")?.Ints.ToArray();
        if (axes is not [0])
        {
            return null;
        }
        long i = TensorData.ToInt64Array(index)[0];
        return i >= 0 ? (shape.Input[0], i) : null;
    }

    private static void FoldConstantReshapes(ModelProto model)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        for (int i = graph.Node.Count - 1; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.OpType != "Reshape" || node.Input.Count < 2
                || !initializers.TryGetValue(node.Input[0], out var data) || !initializers.TryGetValue(node.Input[1], out var shapeTensor)
                || graph.Output.Any(o => o.Name == node.Output[0]))
            {
                continue;
            }
            long[] target = TensorData.ToInt64Array(shapeTensor);
            long total = TensorData.ElementCount(data);
            long known = 1;
            int inferred = -1;
            for (int d = 0; d < target.Length; d++)
            {
                if (target[d] == 0)
                {
                    target[d] = data.Dims[d];
                }
                if (target[d] == -1)
                {
                    inferred = d;
                }
                else
                {
                    known *= target[d];
                }
            }
            if (inferred >= 0)
            {
                target[inferred] = total / known;
            }
            var folded = TensorData.CreateFromRawBytes(node.Output[0], data.DataType, TensorData.ToRawBytes(data), target);
            graph.Initializer.Add(folded);
            initializers[folded.Name] = folded;
            graph.Node.RemoveAt(i);
        }
    }

    private static void UnshareReshapeShapes(ModelProto model)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var seen = new HashSet<string>();
        var view = new OnnxGraph(graph);
        foreach (var node in graph.Node.Where(n => n.OpType == "Reshape" && n.Input.Count > 1))
        {
            if (!initializers.TryGetValue(node.Input[1], out var shape))
            {
                continue;
            }
            if (seen.Add(shape.Name))
            {
                continue;
            }
            var copy = shape.Clone();
            copy.Name = view.MakeUniqueName(shape.Name + "_" + (node.Name.Length > 0 ? node.Name : node.Output[0]));
            graph.Initializer.Add(copy);
            node.Input[1] = copy.Name;
        }
    }

    /// <summary>
    /// After Reshape targets were replaced by constants: drops the shape arithmetic nothing reads any more, and the graph
    /// inputs that shadowed the initializers it removed.
    /// </summary>
    internal static void RemoveWhatFoldedTargetsLeftUnused(ModelProto model)
    {
        var graph = model.Graph;
        var before = graph.Initializer.Select(t => t.Name).ToHashSet();
        new OnnxGraph(graph).RemoveUnusedNodesAndInitializers();
        before.ExceptWith(graph.Initializer.Select(t => t.Name));
        SyncInitializerInputs(model, before);
    }

    /// <summary>
    /// Keeps graph inputs that shadow initializers (required before IR 4, allowed after) in step with them:
    /// same dims, present for every initializer when the IR version needs it, gone when the initializer is.
    /// </summary>
    public static void SyncInitializerInputs(ModelProto model, ISet<string>? removedInitializers = null)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        for (int i = graph.Input.Count - 1; i >= 0; i--)
        {
            var input = graph.Input[i];
            if (initializers.TryGetValue(input.Name, out var init))
            {
                var shape = input.Type?.TensorType?.Shape;
                if (shape is not null)
                {
                    shape.Dim.Clear();
                    foreach (long d in init.Dims)
                    {
                        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
                    }
                }
            }
            else if (removedInitializers?.Contains(input.Name) == true)
            {
                graph.Input.RemoveAt(i);
            }
        }
        if (model.IrVersion < 4)
        {
            var inputs = new HashSet<string>(graph.Input.Select(x => x.Name));
            foreach (var init in graph.Initializer.Where(t => !inputs.Contains(t.Name)))
            {
                var shape = new TensorShapeProto();
                foreach (long d in init.Dims)
                {
                    shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
                }
                graph.Input.Add(new ValueInfoProto
                {
                    Name = init.Name,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = init.DataType, Shape = shape } },
                });
            }
        }
    }
}
