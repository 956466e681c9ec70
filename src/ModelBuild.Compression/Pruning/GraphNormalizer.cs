using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Puts a graph in the form the dependency analysis expects, without changing what it computes or its opset:
/// Constant nodes become initializers (so every constant operand is an initializer), a Reshape of an
/// initializer by a constant shape is folded (mnist-8 reshapes its Gemm weight at run time), and every
/// Reshape gets its own shape initializer (so pruning one head group cannot edit another Reshape's shape).
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
