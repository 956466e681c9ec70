using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// What every fusion asks of a graph while matching: producers, consumers, constant values (initializers and Constant
/// nodes alike), and whether an intermediate value is private to a pattern. Matching never looks at names.
/// </summary>
public sealed class GraphPatterns
{
    readonly List<NodeProto> _removed = [];

    public GraphPatterns(OnnxModel model)
    {
        Model = model;
        Graph = model.Graph;
    }

    public OnnxModel Model { get; }
    public OnnxGraph Graph { get; }

    /// <summary>The ONNX Runtime contrib domain of the fused operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>True for a node of the standard domain with this op type.</summary>
    public static bool Is([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] NodeProto? node, string opType) => node is not null && node.OpType == opType && node.Domain is "" or "ai.onnx";

    public NodeProto? Producer(string value) => value.Length == 0 ? null : Graph.GetProducer(value);

    public IReadOnlyList<NodeProto> Consumers(string value) => Graph.GetConsumers(value);

    /// <summary>The single consumer of <paramref name="value"/> with op type <paramref name="opType"/>, or null.</summary>
    public NodeProto? OnlyConsumer(string value, string opType)
    {
        var consumers = Consumers(value);
        return consumers.Count == 1 && Is(consumers[0], opType) && !Graph.IsGraphOutput(value) ? consumers[0] : null;
    }

    /// <summary>True when nothing but <paramref name="nodes"/> reads <paramref name="value"/> (and it is no graph output).</summary>
    public bool IsPrivateTo(string value, params NodeProto[] nodes) =>
        !Graph.IsGraphOutput(value) && Consumers(value).All(c => nodes.Contains(c));

    /// <summary>The constant behind a value: an initializer, or the tensor of a Constant node; null otherwise.</summary>
    public TensorProto? Constant(string value)
    {
        if (value.Length == 0) return null;
        if (Graph.TryGetInitializer(value, out var init)) return init;
        var producer = Producer(value);
        if (!Is(producer, "Constant")) return null;
        if (producer!.GetTensor("value") is { } t) return t;
        if (producer.Find("value_float") is { } f) return TensorData.CreateScalar(value, f.F);
        if (producer.Find("value_floats") is { } fs) return TensorData.Create(value, fs.Floats.ToArray(), fs.Floats.Count);
        if (producer.Find("value_int") is { } i) return TensorData.CreateScalar(value, i.I);
        if (producer.Find("value_ints") is { } iss) return TensorData.Create(value, iss.Ints.ToArray(), iss.Ints.Count);
        return null;
    }

    public bool IsConstant(string value) => Constant(value) is not null;

    /// <summary>A one-element numeric constant (any rank) as float.</summary>
    public bool TryScalar(string value, out float scalar)
    {
        scalar = 0;
        var t = Constant(value);
        if (t is null || TensorData.ElementCount(t) != 1) return false;
        try { scalar = TensorData.ToSingleArray(t, Model.ExternalData)[0]; return true; }
        catch (ModelBuild.Onnx.Diagnostics.ModelBuildException) { return false; }
    }

    /// <summary>True when <paramref name="value"/> is a one-element constant within 1e-3 (relative) of <paramref name="expected"/>.</summary>
    public bool IsScalar(string value, float expected) =>
        TryScalar(value, out var s) && MathF.Abs(s - expected) <= 1e-3f * MathF.Max(1, MathF.Abs(expected));

    public float[]? Floats(string value)
    {
        var t = Constant(value);
        return t is null || t.DataType != (int)TensorProto.Types.DataType.Float ? null : TensorData.ToArray<float>(t, Model.ExternalData);
    }

    public long[]? Int64s(string value)
    {
        var t = Constant(value);
        if (t is null) return null;
        try { return TensorData.ToInt64Array(t, Model.ExternalData); }
        catch (ModelBuild.Onnx.Diagnostics.ModelBuildException) { return null; }
    }

    /// <summary>A 1-D float constant (a LayerNorm scale or a bias), or null.</summary>
    public float[]? Vector(string value)
    {
        var t = Constant(value);
        return t is not null && t.Dims.Count == 1 ? Floats(value) : null;
    }

    /// <summary>The reduced axes of a ReduceXxx node (attribute before opset 18, input after); null when not constant.</summary>
    public long[]? ReduceAxes(NodeProto reduce)
    {
        if (reduce.GetInts("axes") is { } axes) return axes;
        return reduce.Input.Count > 1 && reduce.Input[1].Length > 0 ? Int64s(reduce.Input[1]) : null;
    }

    static readonly HashSet<string> BooleanResults = ["Equal", "Not", "And", "Or", "Xor", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "IsNaN", "IsInf"];

    /// <summary>Operators whose output has the element type of their first input (they move or repeat elements).</summary>
    static readonly HashSet<string> SameElementType = ["Slice", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Expand", "Identity"];

    /// <summary>
    /// Whether a value is a bool tensor: a comparison or logic node's output, a Cast to bool, or a bool graph input,
    /// possibly moved by shape-only operators (Slice, Unsqueeze, Reshape, ...).
    /// </summary>
    public bool IsBoolean(string value)
    {
        const int boolean = (int)TensorProto.Types.DataType.Bool;
        for (var node = Producer(value); node is not null; node = Producer(node.Input[0]))
        {
            if (node.Domain is not ("" or "ai.onnx")) return false;
            if (BooleanResults.Contains(node.OpType) || node.OpType == "Cast" && node.GetInt("to", 0) == boolean) return true;
            if (!SameElementType.Contains(node.OpType) || node.Input.Count == 0) return false;
            value = node.Input[0];
        }
        return Graph.Proto.Input.FirstOrDefault(i => i.Name == value)?.Type?.TensorType?.ElemType == boolean;
    }

    /// <summary>For a two-input node, the input that is not <paramref name="known"/>; null when neither or both are.</summary>
    public static string? Other(NodeProto binary, string known) =>
        binary.Input.Count != 2 ? null
        : binary.Input[0] == known && binary.Input[1] != known ? binary.Input[1]
        : binary.Input[1] == known && binary.Input[0] != known ? binary.Input[0]
        : null;

    /// <summary>For a two-input node with one constant input, the other input and the constant's name.</summary>
    public bool SplitConstant(NodeProto binary, out string variable, out string constant)
    {
        variable = constant = "";
        if (binary.Input.Count != 2) return false;
        var c0 = IsConstant(binary.Input[0]);
        var c1 = IsConstant(binary.Input[1]);
        if (c0 == c1) return false;
        (variable, constant) = c0 ? (binary.Input[1], binary.Input[0]) : (binary.Input[0], binary.Input[1]);
        return true;
    }

    /// <summary>A new initializer with a unique name; returns the name.</summary>
    public string AddInitializer<T>(string prefix, T[] values, params long[] dims) where T : unmanaged
    {
        var name = Graph.MakeUniqueName(prefix);
        Graph.AddInitializer(TensorData.Create(name, values, dims));
        return name;
    }

    /// <summary>Adds a standard-domain node with one output, named from <paramref name="prefix"/> and the op type; returns that output.</summary>
    public string AddNodeOutput(string op, string[] inputs, string prefix, params AttributeProto[] attributes) =>
        Graph.AddNode(op, inputs, attributes: attributes, outputPrefix: prefix + "_" + op).Output[0];

    /// <summary>Marks matched nodes for removal by <see cref="Commit"/> (after every match of a pass was found).</summary>
    public void Remove(IEnumerable<NodeProto> nodes) => _removed.AddRange(nodes);

    /// <summary>Removes the marked nodes, puts the graph back in topological order and drops what nothing reads.</summary>
    public void Commit()
    {
        foreach (var node in _removed.Distinct()) Graph.Proto.Node.Remove(node);
        _removed.Clear();
        Graph.Invalidate();
        Graph.RemoveUnusedNodesAndInitializers();
        Graph.SortTopologically();
    }

    /// <summary>
    /// Adds one ONNX Runtime contrib node (<see cref="MicrosoftDomain"/>) in place of a match's <paramref name="nodes"/>,
    /// which go at <see cref="CommitFused"/>; its outputs take the match's, so readers of the match read the fused node.
    /// </summary>
    public NodeProto Fuse(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<NodeProto> nodes,
        string outputPrefix, IEnumerable<AttributeProto>? attributes = null)
    {
        var fused = Graph.AddNode(opType, inputs, outputs, domain: MicrosoftDomain, attributes: attributes, outputPrefix: outputPrefix);
        Remove(nodes);
        return fused;
    }

    /// <summary>Ends a pass that <see cref="Fuse"/>d <paramref name="matches"/> matches: imports the contrib domain and commits (nothing when none). Returns <paramref name="matches"/>.</summary>
    public int CommitFused(int matches)
    {
        if (matches > 0)
        {
            UseMicrosoftDomain();
            Commit();
        }
        return matches;
    }

    /// <summary>Makes sure the model imports the ONNX Runtime contrib domain (version 1).</summary>
    public void UseMicrosoftDomain()
    {
        if (Model.GetOpsetVersion(MicrosoftDomain) is null) Model.SetOpsetVersion(MicrosoftDomain, 1);
    }
}
