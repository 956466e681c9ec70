using Google.Protobuf;
using ModelBuild.Onnx.Tests.Infrastructure;
using Onnx;

namespace ModelBuild.Onnx.Tests;

public sealed class ModelRoundTripTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string Wine => Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx");

    [Fact]
    public void Unknown_fields_and_metadata_survive_load_and_save()
    {
        // A future ONNX field at the model level (field 999, varint 42) and one inside a node (field 777, string).
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Wine));
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "modelbuild-test" });
        var nodeBytes = proto.Graph.Node[0].ToByteArray().Concat(new byte[] { 0xCA, 0x30, 0x03, (byte)'a', (byte)'b', (byte)'c' }).ToArray();
        proto.Graph.Node[0] = NodeProto.Parser.ParseFrom(nodeBytes);
        byte[] bytes = proto.ToByteArray().Concat(new byte[] { 0xB8, 0x3E, 42 }).ToArray();
        string path = _temp.File("unknown.onnx");
        File.WriteAllBytes(path, bytes);

        var model = OnnxModel.Load(path);
        string saved = _temp.File("saved.onnx");
        model.Save(saved);
        Assert.Equal(bytes, File.ReadAllBytes(saved));
        var reloaded = OnnxModel.Load(saved);
        Assert.Equal("modelbuild-test", reloaded.Metadata["author"]);
        Assert.Equal(new byte[] { 0xCA, 0x30, 0x03, (byte)'a', (byte)'b', (byte)'c' }, reloaded.GraphProto.Node[0].ToByteArray()[^6..]);
        Assert.EndsWith(Convert.ToHexString(new byte[] { 0xB8, 0x3E, 42 }), Convert.ToHexString(reloaded.Proto.ToByteArray()));
    }

    [Fact]
    public void Save_is_deterministic_and_atomic()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Models, "super-resolution-10", "model.onnx"));
        string a = _temp.File("a.onnx"), b = _temp.File("b.onnx");
        model.Save(a, new OnnxSaveOptions { ExternalDataThreshold = 4096 });
        model.Save(b, new OnnxSaveOptions { ExternalDataThreshold = 4096 });
        Assert.Equal(File.ReadAllBytes(a + ".data"), File.ReadAllBytes(b + ".data"));
        // The model files name their own data file, so compare them with the location normalised.
        Assert.Equal(File.ReadAllBytes(a).Length, File.ReadAllBytes(b).Length);
        // Saving over an existing file replaces it and leaves no temporary files behind.
        model.Save(a);
        Assert.Equal(new[] { "a.onnx", "a.onnx.data", "b.onnx", "b.onnx.data" }, Directory.GetFiles(_temp.Path).Select(Path.GetFileName).Order());
        Assert.True(OnnxModel.Load(a).Proto.Equals(model.Proto));
    }

    [Fact]
    public void External_data_is_aligned_and_relative()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "synthetic-intent-transformer", "teacher.onnx"));
        string path = Path.Combine(_temp.Path, "sub", "m.onnx");
        model.Save(path, new OnnxSaveOptions { ExternalDataThreshold = 1024, ExternalDataFileName = "weights.bin" });
        var raw = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var external = raw.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.NotEmpty(external);
        foreach (var t in external)
        {
            var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal("weights.bin", entries["location"]);
            Assert.Equal(0, long.Parse(entries["offset"]) % 4096);
            Assert.True(t.RawData.IsEmpty);
        }
        // Lazy mode keeps the tensors external and reads them on demand, relative to the model's folder.
        var lazy = OnnxModel.Load(path, new OnnxLoadOptions { LoadExternalData = false });
        var first = lazy.GraphProto.Initializer.First(t => t.DataLocation == TensorProto.Types.DataLocation.External);
        var expected = model.Graph.GetInitializer(first.Name)!;
        Assert.Equal(Tensors.TensorData.ToRawBytes(expected), Tensors.TensorData.ToRawBytes(first, lazy.ExternalData));
        Assert.True(lazy.Clone().ToBytes().AsSpan().SequenceEqual(model.ToBytes()));
    }

    [Fact]
    public void External_data_file_names_outside_the_folder_are_refused_on_save()
    {
        var model = OnnxModel.Load(Wine);
        string path = Path.Combine(_temp.Path, "inner", "m.onnx");
        var escape = Assert.Throws<Diagnostics.ModelBuildException>(() =>
            model.Save(path, new OnnxSaveOptions { ExternalDataThreshold = 1, ExternalDataFileName = "../m.data" }));
        Assert.Equal("MB0011", escape.Code);
        var absolute = Assert.Throws<Diagnostics.ModelBuildException>(() =>
            model.Save(path, new OnnxSaveOptions { ExternalDataThreshold = 1, ExternalDataFileName = "/tmp/m.data" }));
        Assert.Equal("MB0010", absolute.Code);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Opsets_and_parameter_counts()
    {
        var mnist = OnnxModel.Load(Path.Combine(SharedMaterials.Models, "mnist-8", "model.onnx"));
        Assert.Equal(8, mnist.GetOpsetVersion());
        Assert.Equal(8, mnist.GetOpsetVersion("ai.onnx"));
        Assert.Null(mnist.GetOpsetVersion("com.microsoft"));
        var ultraface = OnnxModel.Load(Path.Combine(SharedMaterials.Models, "ultraface-rfb-320", "model.onnx"));
        Assert.NotNull(ultraface.GetOpsetVersion("com.microsoft.nchwc"));

        // reference.json: teacher params 70,147 (wine), 74,242 (breast cancer), 482,700 (transformer).
        Assert.Equal(70_147, OnnxModel.Load(Wine).ParameterCount);
        Assert.Equal(74_242, OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "breast-cancer-mlp", "teacher.onnx")).ParameterCount);
        var wine = OnnxModel.Load(Wine);
        Assert.Equal(70_147 * 4, wine.InitializerBytes);
    }
}
