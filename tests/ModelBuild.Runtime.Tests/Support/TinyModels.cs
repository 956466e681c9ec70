using Google.Protobuf;
using Onnx;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>Builds single-node ONNX models (Identity) for exercising element types, shapes and dynamic axes.</summary>
internal static class TinyModels
{
    /// <summary>An Identity model "x" -> "y"; a dimension is an int (fixed) or a string (symbolic, dynamic).</summary>
    public static byte[] Identity(TensorProto.Types.DataType type, params object[] dims)
    {
        var graph = new GraphProto { Name = "identity" };
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { "x" }, Output = { "y" }, Name = "id" });
        graph.Input.Add(Value("x", type, dims));
        graph.Output.Add(Value("y", type, dims));
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "ModelBuild.Runtime.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    public static string Write(TempDirectory dir, string name, byte[] model)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, model);
        return path;
    }

    private static ValueInfoProto Value(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is string symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
