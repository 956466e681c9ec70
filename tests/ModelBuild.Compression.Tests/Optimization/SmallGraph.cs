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
}
