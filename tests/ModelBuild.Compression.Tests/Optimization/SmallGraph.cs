using ModelBuild.Compression.Quantization;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>A small graph a test builds by hand, saved as an ONNX file (IR 8, opset 17, the contrib domain imported).</summary>
internal static class SmallGraph
{
    /// <summary>Builds the graph <paramref name="name"/> with <paramref name="build"/> and saves it in a new temp folder; returns its path.</summary>
    public static string Save(string name, Action<GraphProto> build)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        model.Graph = new GraphProto { Name = name };
        build(model.Graph);
        var path = Path.Combine(TempDir(), name + ".onnx");
        OnnxModelAccess.Save(model, path);
        return path;
    }

    /// <summary>A graph input or output: <paramref name="dims"/> with -1 as the batch dimension "B"; no shape when null.</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, long[]? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims is not null)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in dims)
                tensor.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "B" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
