using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Graph edits shared by the quantizers: QuantizeLinear/DequantizeLinear pairs on activations, DequantizeLinear
/// on quantized weights, unused-initializer cleanup. Names derive from the tensor names, so output is deterministic.
/// </summary>
internal sealed class QdqGraphWriter
{
    private readonly GraphProto _graph;
    private readonly Dictionary<string, TensorProto> _initializers;
    private readonly HashSet<string> _names;
    public readonly List<NodeProto> Prologue = [];

    public QdqGraphWriter(GraphProto graph)
    {
        _graph = graph;
        _initializers = OnnxModelAccess.Initializers(graph);
        _names = graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(graph.Initializer.Select(i => i.Name))
            .Concat(graph.Input.Select(i => i.Name)).ToHashSet(StringComparer.Ordinal);
    }

    public TensorProto Initializer(string name) => _initializers[name];
    public bool IsInitializer(string name) => _initializers.ContainsKey(name);

    public string Unique(string name)
    {
        var candidate = name;
        for (var i = 1; !_names.Add(candidate); i++) candidate = $"{name}_{i}";
        return candidate;
    }

    public string AddInitializer(TensorProto tensor)
    {
        tensor.Name = Unique(tensor.Name);
        _graph.Initializer.Add(tensor);
        _initializers[tensor.Name] = tensor;
        return tensor.Name;
    }

    /// <summary>Q and DQ nodes for activation <paramref name="tensor"/>; returns the nodes and the dequantized name.</summary>
    public (NodeProto Q, NodeProto Dq, string Output) ActivationQdq(string tensor, QuantParams p)
    {
        var scale = AddInitializer(OnnxModelAccess.FloatTensor(tensor + "_scale", [p.Scales[0]]));
        var zero = AddInitializer(OnnxModelAccess.Int8Tensor(tensor + "_zero_point", [(sbyte)p.ZeroPoints[0]]));
        var quantized = Unique(tensor + "_quantized");
        var dequantized = Unique(tensor + "_dequantized");
        var q = OnnxModelAccess.Node("QuantizeLinear", Unique(tensor + "_QuantizeLinear"), [tensor, scale, zero], [quantized]);
        var dq = OnnxModelAccess.Node("DequantizeLinear", Unique(tensor + "_DequantizeLinear"), [quantized, scale, zero], [dequantized]);
        return (q, dq, dequantized);
    }

    /// <summary>Stores an int8 weight and adds a DequantizeLinear in the prologue; returns the dequantized name.</summary>
    public string WeightDq(string weightName, sbyte[] values, long[] dims, QuantParams p, int? axis)
    {
        var q = AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_quantized", values, dims));
        return DequantizeInitializer(weightName, q, p.Scales, p.ZeroPoints.Select(z => (sbyte)z).ToArray(), axis, int32: false);
    }

    public string BiasDq(string biasName, int[] values, float[] scales, long[] dims)
    {
        var q = AddInitializer(OnnxModelAccess.Int32Tensor(biasName + "_quantized", values, dims));
        return DequantizeInitializer(biasName, q, scales, null, scales.Length > 1 ? 0 : null, int32: true);
    }

    private string DequantizeInitializer(string baseName, string quantized, float[] scales, sbyte[]? zeroPoints, int? axis, bool int32)
    {
        var perAxis = scales.Length > 1;
        var scale = AddInitializer(perAxis ? OnnxModelAccess.FloatTensor(baseName + "_scale", scales, scales.Length) : OnnxModelAccess.FloatTensor(baseName + "_scale", scales));
        var inputs = new List<string> { quantized, scale };
        if (int32)
            inputs.Add(AddInitializer(perAxis ? OnnxModelAccess.Int32Tensor(baseName + "_zero_point", new int[scales.Length], scales.Length) : OnnxModelAccess.Int32Tensor(baseName + "_zero_point", [0])));
        else
            inputs.Add(AddInitializer(perAxis ? OnnxModelAccess.Int8Tensor(baseName + "_zero_point", zeroPoints!, scales.Length) : OnnxModelAccess.Int8Tensor(baseName + "_zero_point", zeroPoints!)));
        var output = Unique(baseName + "_dequantized");
        var dq = OnnxModelAccess.Node("DequantizeLinear", Unique(baseName + "_DequantizeLinear"), inputs, [output]);
        if (perAxis && axis is { } a) dq.Attribute.Add(OnnxModelAccess.IntAttribute("axis", a));
        Prologue.Add(dq);
        return output;
    }

    /// <summary>Drops initializers nothing reads any more (the float weights that were replaced).</summary>
    public static void RemoveUnusedInitializers(GraphProto graph)
    {
        var used = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        // Bodies at any depth may read an enclosing graph's initializer by name (If/Loop/Scan, nested).
        used.UnionWith(GraphTraversal.AllNodes(graph).SelectMany(n => n.Input));
        var unused = graph.Initializer.Where(t => !used.Contains(t.Name)).ToList();
        foreach (var t in unused) graph.Initializer.Remove(t);
    }
}
