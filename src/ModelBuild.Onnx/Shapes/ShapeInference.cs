using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Onnx.Shapes;

/// <summary>What <see cref="ShapeInference.Infer(OnnxModel)"/> did.</summary>
public sealed record ShapeInferenceResult(
    int ValuesWithShape,
    int ValuesWithoutShape,
    IReadOnlyList<string> UnsupportedOperators,
    IReadOnlyDictionary<string, InferredValue> Values,
    IReadOnlyList<string> FailedNodes);

/// <summary>
/// Infers element types and shapes of every value in the main graph and writes them to value_info (and to
/// graph outputs that lack them), keeping symbolic dims as dim_param. It covers the operators of the models
/// in ../shared (see <see cref="OperatorShapeRules"/>); an operator it does not know leaves its outputs
/// unknown, and everything downstream that depends on them, without failing. Written here rather than
/// calling onnx's C++ inference because no .NET package ships it.
/// </summary>
public static class ShapeInference
{
    public static ShapeInferenceResult Infer(OnnxModel model) => Infer(model.Proto);

    public static ShapeInferenceResult Infer(ModelProto model)
    {
        var graph = model.Graph;
        long opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1;
        var (env, constants) = Seed(model);
        var pass = InferNodes(graph, env, constants, opset);
        WriteValueInfo(graph, env, pass.InferredNames);
        var (withShape, without) = CountNodeOutputs(graph, env);
        return new ShapeInferenceResult(withShape, without, pass.Unsupported.ToList(), env, pass.Failed);
    }

    /// <summary>The environment before any node: the graph's annotations and its initializers (the constant ones with their values).</summary>
    private static (Dictionary<string, InferredValue> Env, Dictionary<string, TensorProto> Constants) Seed(ModelProto model)
    {
        var graph = model.Graph;
        var env = new Dictionary<string, InferredValue>(StringComparer.Ordinal);
        var graphInputs = new HashSet<string>(graph.Input.Select(i => i.Name));
        var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);

        // Annotations already present seed the environment (inference may refine them).
        foreach (var vi in graph.ValueInfo.Concat(graph.Input))
        {
            if (FromValueInfo(vi) is { } value)
            {
                env[vi.Name] = value;
            }
        }
        foreach (var init in graph.Initializer)
        {
            // From IR 4 on, an initializer that is also a graph input is only a default that can be overridden at run
            // time: its shape holds, its values do not. Before IR 4 every initializer was listed as an input and is constant.
            bool overridable = model.IrVersion >= 4 && graphInputs.Contains(init.Name);
            env[init.Name] = FromTensor(init, withValues: !overridable);
            if (!overridable)
            {
                constants[init.Name] = init;
            }
        }
        return (env, constants);
    }

    /// <summary>What one pass over the nodes found: operators without a rule, rule failures, and the values it inferred (in order).</summary>
    private sealed record NodePass(SortedSet<string> Unsupported, List<string> Failed, List<string> InferredNames);

    /// <summary>Applies each node's shape rule in topological order, merging its outputs into <paramref name="env"/>.</summary>
    private static NodePass InferNodes(GraphProto graph, Dictionary<string, InferredValue> env, Dictionary<string, TensorProto> constants, long opset)
    {
        var pass = new NodePass(new SortedSet<string>(StringComparer.Ordinal), [], []);
        foreach (var node in new OnnxGraph(graph).TopologicalOrder())
        {
            var context = new ShapeInferenceContext(node, env, constants, opset);
            bool known = OnnxModel.NormalizeDomain(node.Domain) == "" && OperatorShapeRules.Apply(context);
            if (context.Failure is not null)
            {
                pass.Failed.Add(context.Failure);
            }
            if (!known)
            {
                pass.Unsupported.Add(string.IsNullOrEmpty(node.Domain) ? node.OpType : $"{node.Domain}.{node.OpType}");
            }
            for (int i = 0; i < node.Output.Count; i++)
            {
                string name = node.Output[i];
                if (name.Length == 0)
                {
                    continue;
                }
                if (context.Outputs.TryGetValue(i, out var value))
                {
                    env[name] = Merge(env.GetValueOrDefault(name), value);
                    pass.InferredNames.Add(name);
                }
            }
            if (node.OpType == "Constant" && node.Output.Count == 1 && node.Find("value") is { T: { } t })
            {
                constants[node.Output[0]] = t;
            }
        }
        return pass;
    }

    /// <summary>How many node outputs have an element type and a shape, and how many do not.</summary>
    private static (int WithShape, int Without) CountNodeOutputs(GraphProto graph, Dictionary<string, InferredValue> env)
    {
        int withShape = 0, without = 0;
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                if (env.TryGetValue(output, out var v) && v.Shape is not null && v.ElementType != 0)
                {
                    withShape++;
                }
                else
                {
                    without++;
                }
            }
        }
        return (withShape, without);
    }

    /// <summary>Keeps the more specific of an existing annotation and a freshly inferred value, dim by dim.</summary>
    private static InferredValue Merge(InferredValue? existing, InferredValue inferred)
    {
        if (existing is null)
        {
            return inferred;
        }
        int type = inferred.ElementType != 0 ? inferred.ElementType : existing.ElementType;
        var shape = inferred.Shape;
        if (shape is null)
        {
            shape = existing.Shape;
        }
        else if (existing.Shape is not null && existing.Shape.Length == shape.Length)
        {
            shape = shape.Zip(existing.Shape, (a, b) => a.IsKnown ? a : b.IsKnown ? b : a.IsSymbol ? a : b).ToArray();
        }
        return new InferredValue(type, shape, inferred.Values ?? existing.Values);
    }

    private static void WriteValueInfo(GraphProto graph, Dictionary<string, InferredValue> env, List<string> inferred)
    {
        var outputs = graph.Output.ToDictionary(o => o.Name, o => o);
        var existing = new Dictionary<string, ValueInfoProto>();
        foreach (var vi in graph.ValueInfo)
        {
            existing[vi.Name] = vi;
        }
        var inputs = new HashSet<string>(graph.Input.Select(i => i.Name));
        foreach (var name in inferred.Distinct())
        {
            var value = env[name];
            if (value.ElementType == 0 && value.Shape is null)
            {
                continue;
            }
            if (outputs.TryGetValue(name, out var output))
            {
                FillType(output, value, onlyIfMissing: true);
                continue;
            }
            if (inputs.Contains(name))
            {
                continue;
            }
            if (!existing.TryGetValue(name, out var vi))
            {
                vi = new ValueInfoProto { Name = name };
                graph.ValueInfo.Add(vi);
                existing[name] = vi;
            }
            FillType(vi, value, onlyIfMissing: false);
        }
    }

    private static void FillType(ValueInfoProto vi, InferredValue value, bool onlyIfMissing)
    {
        vi.Type ??= new TypeProto();
        if (vi.Type.ValueCase is not (TypeProto.ValueOneofCase.None or TypeProto.ValueOneofCase.TensorType))
        {
            return;
        }
        vi.Type.TensorType ??= new TypeProto.Types.Tensor();
        var tensor = vi.Type.TensorType;
        if (value.ElementType != 0 && (!onlyIfMissing || tensor.ElemType == 0))
        {
            tensor.ElemType = value.ElementType;
        }
        if (value.Shape is not null && (!onlyIfMissing || tensor.Shape is null))
        {
            tensor.Shape = ToShapeProto(value.Shape);
        }
    }

    public static TensorShapeProto ToShapeProto(IEnumerable<SymbolicDim> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (d.IsKnown)
            {
                dim.DimValue = d.Value;
            }
            else if (d.IsSymbol)
            {
                dim.DimParam = d.Param;
            }
            shape.Dim.Add(dim);
        }
        return shape;
    }

    public static InferredValue? FromValueInfo(ValueInfoProto vi)
    {
        if (vi.Type?.TensorType is not { } t)
        {
            return null;
        }
        SymbolicDim[]? shape = t.Shape is null ? null : t.Shape.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => SymbolicDim.Known(d.DimValue),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => SymbolicDim.Symbol(d.DimParam),
            _ => SymbolicDim.Unknown,
        }).ToArray();
        return new InferredValue(t.ElemType, shape);
    }

    /// <summary>Type and shape of a constant tensor, plus its elements when it is a small integer tensor.</summary>
    public static InferredValue FromTensor(TensorProto tensor, bool withValues = true)
    {
        var shape = tensor.Dims.Select(SymbolicDim.Known).ToArray();
        SymbolicDim[]? values = null;
        if (withValues && tensor.Dims.Count <= 1 && tensor.DataLocation != TensorProto.Types.DataLocation.External
            && IsInteger(tensor.DataType) && TensorData.ElementCount(tensor) <= 1024)
        {
            values = TensorData.ToInt64Array(tensor).Select(SymbolicDim.Known).ToArray();
        }
        return new InferredValue(tensor.DataType, shape, values);
    }

    internal static bool IsInteger(int dataType) => (TensorProto.Types.DataType)dataType is
        TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Int16
        or TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Uint16
        or TensorProto.Types.DataType.Uint32 or TensorProto.Types.DataType.Bool;
}

/// <summary>One node's view during inference: its inputs' facts, constant inputs, and the outputs it sets.</summary>
public sealed class ShapeInferenceContext
{
    private readonly IReadOnlyDictionary<string, InferredValue> _env;
    private readonly IReadOnlyDictionary<string, TensorProto> _constants;

    internal ShapeInferenceContext(NodeProto node, IReadOnlyDictionary<string, InferredValue> env,
        IReadOnlyDictionary<string, TensorProto> constants, long opset) =>
        (Node, _env, _constants, Opset) = (node, env, constants, opset);

    public NodeProto Node { get; }

    public long Opset { get; }

    public Dictionary<int, InferredValue> Outputs { get; } = new();

    /// <summary>Set when the node's rule threw (malformed node); its outputs stay unknown.</summary>
    public string? Failure { get; internal set; }

    public int InputCount => Node.Input.Count;

    public bool HasInput(int i) => i < Node.Input.Count && Node.Input[i].Length > 0;

    public InferredValue? Input(int i) => HasInput(i) ? _env.GetValueOrDefault(Node.Input[i]) : null;

    /// <summary>The constant tensor behind an input (initializer or Constant output), if it is one.</summary>
    public TensorProto? ConstantInput(int i) => HasInput(i) ? _constants.GetValueOrDefault(Node.Input[i]) : null;

    /// <summary>The input's integer elements when all are known (constants or propagated shape values).</summary>
    public long[]? ConstInts(int i) => Input(i)?.KnownValues;

    public void SetOutput(int i, int elementType, SymbolicDim[]? shape, SymbolicDim[]? values = null)
    {
        if (i < Node.Output.Count && Node.Output[i].Length > 0)
        {
            Outputs[i] = new InferredValue(elementType, shape, values);
        }
    }
}
