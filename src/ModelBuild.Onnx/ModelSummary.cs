using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Onnx;

/// <summary>One graph input or output: name, element type and shape as text ("float", "[batch,13]").</summary>
public sealed record ValueSummary(string Name, string ElementType, string Shape);

/// <summary>
/// What `modelbuild inspect` prints and reports quote: I/O, opsets, operator histogram, parameters and bytes.
/// </summary>
public sealed record ModelSummary(
    string? Path,
    long IrVersion,
    string Producer,
    IReadOnlyList<(string Domain, long Version)> Opsets,
    IReadOnlyList<ValueSummary> Inputs,
    IReadOnlyList<ValueSummary> Outputs,
    IReadOnlyList<(string Operator, int Count)> Operators,
    int NodeCount,
    int InitializerCount,
    long ParameterCount,
    long InitializerBytes,
    long FileBytes,
    IReadOnlyDictionary<string, string> Metadata)
{
    public static ModelSummary Create(OnnxModel model)
    {
        var proto = model.Proto;
        var histogram = GraphTraversal.AllGraphs(proto.Graph)
            .SelectMany(g => g.Node)
            .GroupBy(n => OnnxModel.NormalizeDomain(n.Domain) is "" ? n.OpType : $"{n.Domain}.{n.OpType}")
            .Select(g => (g.Key, g.Count()))
            .OrderByDescending(p => p.Item2).ThenBy(p => p.Key, StringComparer.Ordinal)
            .ToList();
        long fileBytes = model.FilePath is { } path && File.Exists(path) ? new FileInfo(path).Length : proto.CalculateSize();
        fileBytes += model.ExternalDataFiles.Sum(f => new FileInfo(f).Length);
        return new ModelSummary(
            model.FilePath,
            proto.IrVersion,
            string.IsNullOrEmpty(proto.ProducerVersion) ? proto.ProducerName : $"{proto.ProducerName} {proto.ProducerVersion}",
            proto.OpsetImport.Select(o => (o.Domain is "" ? "ai.onnx" : o.Domain, o.Version)).ToList(),
            model.Graph.RealInputs().Select(Describe).ToList(),
            proto.Graph.Output.Select(Describe).ToList(),
            histogram,
            GraphTraversal.AllGraphs(proto.Graph).Sum(g => g.Node.Count),
            GraphTraversal.AllGraphs(proto.Graph).Sum(g => g.Initializer.Count),
            model.ParameterCount,
            model.InitializerBytes,
            fileBytes,
            model.Metadata);
    }

    public static ValueSummary Describe(ValueInfoProto value)
    {
        var type = value.Type;
        if (type is null)
        {
            return new ValueSummary(value.Name, "?", "?");
        }
        switch (type.ValueCase)
        {
            case TypeProto.ValueOneofCase.TensorType:
                return new ValueSummary(value.Name, TensorElementTypes.Name(type.TensorType.ElemType), ShapeText(type.TensorType.Shape));
            case TypeProto.ValueOneofCase.SparseTensorType:
                return new ValueSummary(value.Name, "sparse " + TensorElementTypes.Name(type.SparseTensorType.ElemType), ShapeText(type.SparseTensorType.Shape));
            case TypeProto.ValueOneofCase.SequenceType:
                return new ValueSummary(value.Name, "sequence", "?");
            case TypeProto.ValueOneofCase.MapType:
                return new ValueSummary(value.Name, "map", "?");
            case TypeProto.ValueOneofCase.OptionalType:
                return new ValueSummary(value.Name, "optional", "?");
            default:
                return new ValueSummary(value.Name, "?", "?");
        }
    }

    /// <summary>"[1,3,224,224]", "[batch,?]" (? for a dim without value or name), "?" for an unknown rank.</summary>
    public static string ShapeText(TensorShapeProto? shape)
    {
        if (shape is null)
        {
            return "?";
        }
        return "[" + string.Join(",", shape.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        })) + "]";
    }
}
