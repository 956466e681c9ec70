using Google.Protobuf;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Tests.Infrastructure;
using Onnx;

namespace ModelBuild.Onnx.Tests;

/// <summary>Every way a model file can be bad gets its own MB00xx code naming the file, and nothing else escapes.</summary>
public sealed class LoadErrorTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private static string Mnist => Path.Combine(SharedMaterials.Models, "mnist-8", "model.onnx");

    public void Dispose() => _temp.Dispose();

    private static ModelBuildException AssertCode(string code, string path, Action action)
    {
        var e = Assert.Throws<ModelBuildException>(action);
        Assert.Equal(code, e.Code);
        Assert.Equal(path, e.File);
        Assert.Contains(path, e.ToString());
        Assert.False(string.IsNullOrWhiteSpace(e.Remedy));
        return e;
    }

    [Fact]
    public void Missing_file_is_MB0001()
    {
        string path = _temp.File("nope.onnx");
        AssertCode("MB0001", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void Empty_file_is_MB0002()
    {
        string path = _temp.File("empty.onnx");
        File.WriteAllBytes(path, []);
        AssertCode("MB0002", path, () => OnnxModel.Load(path));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_bytes_are_MB0003(int seed)
    {
        var bytes = new byte[4096];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0xFF; // keep the first tag away from the few ModelProto fields by chance
        string path = _temp.File($"random{seed}.onnx");
        File.WriteAllBytes(path, bytes);
        AssertCode("MB0003", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void Other_formats_are_MB0003()
    {
        string text = _temp.File("readme.onnx");
        File.WriteAllText(text, "hello, this is not a model");
        AssertCode("MB0003", text, () => OnnxModel.Load(text));

        string zip = _temp.File("checkpoint.pt"); // a PyTorch checkpoint is a zip: "PK\x03\x04"
        File.WriteAllBytes(zip, [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]);
        AssertCode("MB0003", zip, () => OnnxModel.Load(zip));

        string npy = Path.Combine(SharedMaterials.Teachers, "wine-mlp", "train_x.npy");
        AssertCode("MB0003", npy, () => OnnxModel.Load(npy));
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.1)]
    [InlineData(0.9)]
    [InlineData(-1)]
    public void Truncated_file_is_MB0004(double fraction)
    {
        byte[] bytes = File.ReadAllBytes(Mnist);
        int length = fraction < 0 ? bytes.Length - 1 : (int)(bytes.Length * fraction);
        string path = _temp.File("truncated.onnx");
        File.WriteAllBytes(path, bytes[..length]);
        AssertCode("MB0004", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void Corrupt_protobuf_is_MB0005()
    {
        // ir_version = 7, then a graph field whose content starts with the invalid tag 0.
        string path = _temp.File("corrupt.onnx");
        File.WriteAllBytes(path, [0x08, 0x07, 0x3A, 0x02, 0x00, 0x00]);
        AssertCode("MB0005", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void Damaged_files_never_crash_the_loader()
    {
        // 300 damaged variants of a real model: cut at random points or with random bytes overwritten. Each
        // must either load or fail with a ModelBuildException (never another exception type).
        byte[] original = File.ReadAllBytes(Mnist);
        var random = new Random(42);
        var codes = new Dictionary<string, int>();
        for (int i = 0; i < 300; i++)
        {
            byte[] bytes = (byte[])original.Clone();
            if (i % 2 == 0)
            {
                bytes = bytes[..random.Next(0, bytes.Length)];
            }
            else
            {
                for (int k = 0; k < 8; k++)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
            }
            try
            {
                OnnxModel.Load(bytes, _temp.Path, "damaged.onnx");
                codes["loaded"] = codes.GetValueOrDefault("loaded") + 1;
            }
            catch (ModelBuildException e)
            {
                codes[e.Code] = codes.GetValueOrDefault(e.Code) + 1;
            }
        }
        Assert.True(codes.GetValueOrDefault("MB0004") > 100, string.Join(", ", codes));
    }

    // ---- external data ----

    /// <summary>Writes a copy of the wine teacher whose first initializer points at <paramref name="location"/>.</summary>
    private string ModelWithExternalLocation(string folder, string location, long? length = null)
    {
        Directory.CreateDirectory(folder);
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx"));
        var tensor = model.GraphProto.Initializer[0];
        var bytes = Tensors.TensorData.ToRawBytes(tensor);
        new ExternalData.ExternalDataInfo(location, 0, length ?? bytes.Length, null).ApplyTo(tensor);
        string path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, model.Proto.ToByteArrayFast());
        return path;
    }

    [Fact]
    public void External_data_escaping_with_dotdot_is_MB0011()
    {
        string path = ModelWithExternalLocation(Path.Combine(_temp.Path, "a", "b"), "../../etc/passwd");
        var e = AssertCode("MB0011", path, () => OnnxModel.Load(path));
        Assert.Contains("../../etc/passwd", e.Message);
        // Also when external data is left on disk (validated at load, read lazily).
        AssertCode("MB0011", path, () => OnnxModel.Load(path, new OnnxLoadOptions { LoadExternalData = false }));
    }

    [Fact]
    public void External_data_at_an_absolute_path_is_MB0010()
    {
        string path = ModelWithExternalLocation(_temp.Path, "/etc/passwd");
        var e = AssertCode("MB0010", path, () => OnnxModel.Load(path));
        Assert.Contains("/etc/passwd", e.Message);
    }

    [Fact]
    public void External_data_through_a_symlink_leading_outside_is_MB0011()
    {
        string outside = _temp.File("outside.bin");
        File.WriteAllBytes(outside, new byte[1 << 20]);
        string folder = Path.Combine(_temp.Path, "model");
        string path = ModelWithExternalLocation(folder, "weights.bin");
        File.CreateSymbolicLink(Path.Combine(folder, "weights.bin"), outside);
        AssertCode("MB0011", path, () => OnnxModel.Load(path));

        // A symlinked folder inside the model folder that points outside is refused as well.
        string path2 = ModelWithExternalLocation(Path.Combine(_temp.Path, "model2"), "sub/outside.bin");
        Directory.CreateSymbolicLink(Path.Combine(_temp.Path, "model2", "sub"), _temp.Path);
        AssertCode("MB0011", path2, () => OnnxModel.Load(path2));
    }

    [Fact]
    public void A_symlink_loop_is_MB0011_not_a_crash()
    {
        string folder = Path.Combine(_temp.Path, "loop");
        string path = ModelWithExternalLocation(folder, "a.bin");
        File.CreateSymbolicLink(Path.Combine(folder, "a.bin"), Path.Combine(folder, "b.bin"));
        File.CreateSymbolicLink(Path.Combine(folder, "b.bin"), Path.Combine(folder, "a.bin"));
        AssertCode("MB0011", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void A_symlink_that_stays_inside_the_folder_is_accepted()
    {
        string folder = Path.Combine(_temp.Path, "inside");
        var original = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx"));
        original.Save(Path.Combine(folder, "model.onnx"), new OnnxSaveOptions { ExternalDataThreshold = 1024, ExternalDataFileName = "real.data" });
        // Point the model at a link to its own data file.
        File.CreateSymbolicLink(Path.Combine(folder, "link.data"), Path.Combine(folder, "real.data"));
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        foreach (var entry in proto.Graph.Initializer.SelectMany(t => t.ExternalData).Where(e => e.Key == "location"))
        {
            entry.Value = "link.data";
        }
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), proto.ToByteArrayFast());
        Assert.True(OnnxModel.Load(Path.Combine(folder, "model.onnx")).Proto.Equals(original.Proto));
    }

    [Fact]
    public void Missing_external_data_file_is_MB0012()
    {
        string path = ModelWithExternalLocation(_temp.Path, "weights.bin");
        var e = AssertCode("MB0012", path, () => OnnxModel.Load(path));
        Assert.Contains("weights.bin", e.Message);
    }

    [Fact]
    public void Short_external_data_file_is_MB0013()
    {
        string path = ModelWithExternalLocation(_temp.Path, "weights.bin");
        File.WriteAllBytes(_temp.File("weights.bin"), new byte[100]);
        AssertCode("MB0013", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void External_data_without_location_is_MB0014()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx"));
        var tensor = model.GraphProto.Initializer[0];
        tensor.ClearInlineDataForTest();
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "-5" });
        string path = _temp.File("noloc.onnx");
        File.WriteAllBytes(path, model.Proto.ToByteArrayFast());
        AssertCode("MB0014", path, () => OnnxModel.Load(path));
    }

    [Fact]
    public void Save_to_an_unwritable_place_is_MB0006_and_leaves_nothing_behind()
    {
        var model = OnnxModel.Load(Mnist);
        string blocker = _temp.File("file-not-folder");
        File.WriteAllText(blocker, "x");
        string target = Path.Combine(blocker, "model.onnx"); // parent is a file
        var e = Assert.Throws<ModelBuildException>(() => model.Save(target));
        Assert.Equal("MB0006", e.Code);
        Assert.Equal(new[] { blocker }, Directory.GetFileSystemEntries(_temp.Path));
    }
}

internal static class ProtoTestExtensions
{
    public static byte[] ToByteArrayFast(this ModelProto proto)
    {
        return proto.ToByteArray();
    }

    public static void ClearInlineDataForTest(this TensorProto tensor)
    {
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        tensor.FloatData.Clear();
        tensor.Int32Data.Clear();
        tensor.Int64Data.Clear();
        tensor.DoubleData.Clear();
        tensor.Uint64Data.Clear();
    }
}
