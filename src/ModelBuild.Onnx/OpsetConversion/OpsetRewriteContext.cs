using Google.Protobuf;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Shapes;
using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>What an adapter may know and do while rewriting one node: element types and ranks, new constants, refusal.</summary>
public sealed class OpsetRewriteContext
{
    private readonly IReadOnlyDictionary<string, InferredValue> _values;
    private readonly HashSet<string> _names;
    private readonly List<OpsetRefusal> _refusals;

    internal OpsetRewriteContext(GraphProto graph, IReadOnlyDictionary<string, InferredValue> values, HashSet<string> names, List<OpsetRefusal> refusals)
    {
        Graph = graph;
        _values = values;
        _names = names;
        _refusals = refusals;
    }

    /// <summary>The graph (main graph or a subgraph) that holds the node being rewritten.</summary>
    public GraphProto Graph { get; }

    /// <summary>The element type of a value; float when it is not known (the only type the older exporters produce for these ops).</summary>
    public DataType ElementType(string value) =>
        _values.TryGetValue(value, out var v) && v.ElementType != 0 ? (DataType)v.ElementType : DataType.Float;

    /// <summary>The rank of a value, or null when it is not known.</summary>
    public int? Rank(string value) => _values.TryGetValue(value, out var v) ? v.Rank : null;

    /// <summary>The values of a constant (initializer or Constant node output of this graph) as floats, or null.</summary>
    public float[]? ConstantFloats(string value)
    {
        var tensor = Graph.Initializer.FirstOrDefault(t => t.Name == value)
            ?? Graph.Node.FirstOrDefault(n => n.OpType == "Constant" && n.Output.Contains(value))?.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        return tensor is null ? null : TensorData.ToSingleArray(tensor);
    }

    /// <summary>A value name not used anywhere in the model yet.</summary>
    public string UniqueName(string hint)
    {
        var name = hint;
        for (var i = 1; !_names.Add(name); i++) name = $"{hint}_{i}";
        return name;
    }

    /// <summary>Adds an int64 constant (as an initializer of the node's graph) and returns its name.</summary>
    public string Int64s(string hint, params long[] values) => AddInitializer(TensorData.Create(UniqueName(hint), values, values.Length));

    /// <summary>
    /// Moves the int64-list attribute <paramref name="attribute"/>, when the node has it, to a new last input holding the
    /// same values (a constant named after the node's output), as the attribute-to-input adapters of ONNX do.
    /// </summary>
    public void IntsAttributeToInput(NodeProto node, string attribute)
    {
        if (node.GetInts(attribute) is not { } values) return;
        node.RemoveAttributes(attribute);
        node.Input.Add(Int64s($"{node.Output[0]}_{attribute}", values));
    }

    /// <summary>Adds a scalar constant of the given element type (float, double or float16).</summary>
    public string Scalar(string hint, float value, DataType type) => AddInitializer(type switch
    {
        DataType.Double => TensorData.CreateScalar(UniqueName(hint), (double)value),
        DataType.Float16 => TensorData.CreateScalar(UniqueName(hint), (Half)value),
        _ => TensorData.CreateScalar(UniqueName(hint), value),
    });

    /// <summary>Adds a float constant of the given shape, cast to the given element type.</summary>
    public string Floats(string hint, float[] values, DataType type, params long[] dims) => AddInitializer(type switch
    {
        DataType.Double => TensorData.Create(UniqueName(hint), values.Select(v => (double)v).ToArray(), dims),
        DataType.Float16 => TensorData.Create(UniqueName(hint), values.Select(v => (Half)v).ToArray(), dims),
        _ => TensorData.Create(UniqueName(hint), values, dims),
    });

    public string AddInitializer(TensorProto tensor)
    {
        Graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A new node with a unique name derived from the node it replaces.</summary>
    public NodeProto Node(string opType, NodeProto replaced, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName($"{NameOf(replaced)}_{opType}") };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    /// <summary>Records that this node has no faithful rewrite; conversion then fails naming it.</summary>
    public IReadOnlyList<NodeProto> Refuse(NodeProto node, string reason)
    {
        _refusals.Add(new OpsetRefusal(node.OpType, NameOf(node), reason));
        return [node];
    }

    internal static string NameOf(NodeProto node) => string.IsNullOrEmpty(node.Name) ? $"{node.OpType}->{node.Output.FirstOrDefault()}" : node.Name;

    internal static ByteString Utf8(string s) => ByteString.CopyFromUtf8(s);
}

/// <summary>An operator the converter cannot rewrite faithfully, with the node and why.</summary>
public sealed record OpsetRefusal(string OpType, string Node, string Reason)
{
    public override string ToString() => $"{OpType} (node '{Node}'): {Reason}";
}
