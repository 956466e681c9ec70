using Google.Protobuf;
using Onnx;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The short names the quantizers use for model IO, tensors and attributes on OnnxSharp's protobuf classes.
/// Everything delegates to the ONNX layer (OnnxModel, AtomicFile, TensorData, NodeAttributes), which owns the
/// byte-level work; what is left here is quantization-specific (parameter counting, opset bumps).
/// </summary>
public static class OnnxModelAccess
{
    /// <summary>Loads through <see cref="ModelBuild.Onnx.OnnxModel"/> (MB00xx errors), external data read inline.</summary>
    public static ModelProto Load(string path)
    {
        var model = ModelBuild.Onnx.OnnxModel.Load(path);
        return ModelProto.Parser.ParseFrom(model.ToBytes());
    }

    public static byte[] Serialize(ModelProto model) => model.ToByteArray();

    /// <summary>Writes the model through <see cref="ModelBuild.Onnx.AtomicFile"/> (temp file beside <paramref name="path"/> + rename).</summary>
    public static void Save(ModelProto model, string path) => ModelBuild.Onnx.AtomicFile.WriteAllBytes(path, Serialize(model));

    /// <summary>Initializers by name; the first wins if a (malformed) graph repeats a name.</summary>
    public static Dictionary<string, TensorProto> Initializers(GraphProto graph)
    {
        var map = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) map.TryAdd(t.Name, t);
        return map;
    }

    public static long[] Dims(TensorProto t) => TensorData.Shape(t);

    public static long ElementCount(TensorProto t) => TensorData.ElementCount(t);

    public static bool IsFloat(TensorProto t) => t.DataType == (int)TensorProto.Types.DataType.Float;

    /// <summary>A float32 tensor's values (raw_data or typed field); other element types are an error, not a conversion.</summary>
    public static float[] ReadFloats(TensorProto t) => TensorData.ToArray<float>(t);

    /// <summary>Any integer tensor's values as int64 (shapes, axes, indices).</summary>
    public static long[] ReadInt64s(TensorProto t) => TensorData.ToInt64Array(t);

    public static TensorProto FloatTensor(string name, float[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static TensorProto Int8Tensor(string name, sbyte[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static TensorProto UInt8Tensor(string name, byte[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static TensorProto Int32Tensor(string name, int[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static TensorProto Int64Tensor(string name, long[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static TensorProto Float16Tensor(string name, Half[] values, params long[] dims) => TensorData.Create(name, values, dims);

    public static NodeProto Node(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, string domain = "")
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static long? GetInt(NodeProto node, string name, long? fallback = null) => node.Find(name) is { } a ? a.I : fallback;

    public static float? GetFloat(NodeProto node, string name) => node.Find(name) is { } a ? a.F : null;

    public static long OpsetVersion(ModelProto model, string domain = "") =>
        model.OpsetImport.Where(o => o.Domain == domain || (domain == "" && o.Domain == "ai.onnx")).Select(o => o.Version).DefaultIfEmpty(0).Max();

    public static void EnsureOpset(ModelProto model, string domain, long version)
    {
        var existing = model.OpsetImport.FirstOrDefault(o => o.Domain == domain || (domain == "" && o.Domain == "ai.onnx"));
        if (existing is null) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        else if (existing.Version < version) existing.Version = version;
    }

    /// <summary>
    /// Number of model parameters (weights), whatever their storage: quantization scales and zero points are not
    /// counted, and a MatMulNBits weight counts K x N values rather than its packed bytes, so the figure stays
    /// comparable before and after quantization.
    /// </summary>
    public static long CountParameters(ModelProto model)
    {
        var graph = model.Graph;
        var initializers = Initializers(graph);
        var auxiliary = new HashSet<string>(StringComparer.Ordinal);
        var packed = new Dictionary<string, long>(StringComparer.Ordinal);
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).GroupBy(p => p.o).ToDictionary(g => g.Key, g => g.First().n);
        foreach (var node in graph.Node)
        {
            switch (node.OpType)
            {
                case "QuantizeLinear" or "DequantizeLinear":
                    auxiliary.UnionWith(node.Input.Skip(1));
                    break;
                case "MatMulNBits":
                    auxiliary.UnionWith(node.Input.Skip(2));
                    if (node.Input.Count > 1) packed[node.Input[1]] = (GetInt(node, "K") ?? 0) * (GetInt(node, "N") ?? 0);
                    break;
                case "Mul" when node.Input.Count == 2 && producers.TryGetValue(node.Input[0], out var cast) && cast.OpType == "Cast"
                                && initializers.ContainsKey(cast.Input[0]) && initializers.ContainsKey(node.Input[1]):
                    auxiliary.Add(node.Input[1]); // the scale of an int8 weight rebuilt at load
                    break;
            }
        }
        return graph.Initializer.Sum(t => packed.TryGetValue(t.Name, out var n) ? n : auxiliary.Contains(t.Name) ? 0 : ElementCount(t))
            + graph.Node.Where(n => n.OpType == "Constant").Sum(n => n.Attribute.Where(a => a.T is not null).Sum(a => ElementCount(a.T)));
    }
}
