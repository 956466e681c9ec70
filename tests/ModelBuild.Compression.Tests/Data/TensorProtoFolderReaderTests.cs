using Google.Protobuf;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Tests.Data;

public class TensorProtoFolderReaderTests
{
    static readonly string Mnist8Folder = Path.Combine(TestMaterials.Shared, "models", "mnist-8");

    [Fact]
    public void Mnist8_test_data_sets_stack_in_order_and_reproduce_the_expected_outputs()
    {
        var model = Path.Combine(Mnist8Folder, "model.onnx");
        var data = DataSource.Read(Mnist8Folder, new DataReadOptions { ModelPath = model });
        Assert.Equal([3L, 1, 28, 28], data.Inputs.Single().Shape);
        Assert.Null(data.Labels);
        using var runner = new ModelRunner(model);
        var outputs = runner.RunAll(data.Inputs);
        for (var set = 0; set < 3; set++)
        {
            var folder = Path.Combine(Mnist8Folder, $"test_data_set_{set}");
            var input = TensorData.ToArray<float>(TensorProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "input_0.pb"))));
            Assert.Equal(input, data.Inputs.Single().SliceFloats(set, 1));
            var expected = TensorData.ToArray<float>(TensorProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "output_0.pb"))));
            var actual = outputs.Values[0].AsSpan(set * 10, 10).ToArray();
            for (var k = 0; k < 10; k++) Assert.True(Math.Abs(expected[k] - actual[k]) <= 1e-5 + 1e-3 * Math.Abs(expected[k]), $"set {set} logit {k}: {actual[k]} vs {expected[k]}");
        }
    }

    [Fact]
    public void Loose_pb_files_are_read_in_natural_order_as_samples_and_int32_becomes_int64()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "loose");
        Directory.CreateDirectory(folder);
        foreach (var i in new[] { 10, 2, 1 })
        {
            var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int32 };
            t.Dims.AddRange([4]);
            t.Int32Data.AddRange([i, i, i, 0]);
            File.WriteAllBytes(Path.Combine(folder, $"sample_{i}.pb"), t.ToByteArray());
        }
        File.WriteAllBytes(Path.Combine(folder, "output_0.pb"), new TensorProto { DataType = 1 }.ToByteArray());
        var tokenModel = new ModelInputSignature("ids", [-1, 4], false);
        var data = DataSource.Read(folder, new DataReadOptions { Input = tokenModel });
        Assert.Equal([3L, 4], data.Inputs.Single().Shape);
        Assert.Equal([1L, 1, 1, 0, 2, 2, 2, 0, 10, 10, 10, 0], data.Inputs.Single().Int64s!);
    }

    [Fact]
    public void Super_resolution_input_stored_without_batch_and_channel_axes_is_one_sample()
    {
        var folder = Path.Combine(TestMaterials.Shared, "models", "super-resolution-10");
        var data = DataSource.Read(folder, new DataReadOptions { ModelPath = Path.Combine(folder, "model.onnx") });
        Assert.Equal([1L, 1, 224, 224], data.Inputs.Single().Shape);
    }

    [Fact]
    public void MB0119_a_file_that_is_not_a_tensorproto_or_does_not_fit_is_refused()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "bad-pb");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "input_0.pb"), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions()));
        Assert.Equal("MB0119", e.Code);
        Assert.EndsWith("input_0.pb", e.File);

        var t = new TensorProto { DataType = 1 };
        t.Dims.AddRange([5]);
        t.FloatData.AddRange([1, 2, 3, 4, 5]);
        File.WriteAllBytes(Path.Combine(folder, "input_0.pb"), t.ToByteArray());
        var shape = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = TestMaterials.Model("mnist-8") }));
        Assert.Equal("MB0119", shape.Code);
        Assert.Contains("[5]", shape.Cause);
    }
}
